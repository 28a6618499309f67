"""One email as the delivery job carries it (plain JSON), and as the SMTP server gets it (MIME)."""

from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any


class MalformedEmailError(ValueError):
    """A delivery job whose payload is not an email this code wrote."""


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "OutgoingEmail":
        fields = ("to", "subject", "text", "html", "message_id")
        if set(payload) != set(fields) or not all(isinstance(payload[f], str) for f in fields):
            raise MalformedEmailError("email job payload is malformed")
        return cls(**{field: payload[field] for field in fields})

    def mime(self, sender: str) -> EmailMessage:
        """A multipart/alternative message: the text part first, the HTML part preferred."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = self.message_id
        # Automated mail: no out-of-office replies to a no-reply address.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message
