"""Emails written from templates: `<name>.txt` and `<name>.html` under app/mail/templates, the HTML
autoescaped, in an environment of their own (the pages' one carries a stylesheet and a CSP)."""

from email.utils import make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.mail.message import OutgoingEmail

TEMPLATES = Path(__file__).resolve().parent / "templates"


class EmailTemplate(StrEnum):
    PASSWORD_RESET = "password_reset"
    VERIFY_EMAIL = "verify_email"
    CONFIRM_EMAIL_CHANGE = "confirm_email_change"
    EMAIL_CHANGE_NOTICE = "email_change_notice"


SUBJECTS = {
    EmailTemplate.PASSWORD_RESET: "Reset your {site} password",
    EmailTemplate.VERIFY_EMAIL: "Confirm your email address for {site}",
    EmailTemplate.CONFIRM_EMAIL_CHANGE: "Confirm your new email address for {site}",
    EmailTemplate.EMAIL_CHANGE_NOTICE: "Your {site} email address is being changed",
}


class EmailComposer:
    """Writes the service's emails; one per app, built by the app factory."""

    def __init__(self, *, site_name: str, sender: str) -> None:
        self.site_name = site_name
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.globals.update(site_name=site_name)
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def compose(self, template: EmailTemplate, *, to: str, **context: Any) -> OutgoingEmail:
        text = self.env.get_template(f"{template}.txt").render(**context)
        html = self.env.get_template(f"{template}.html").render(**context)
        return OutgoingEmail(
            to=to,
            subject=SUBJECTS[template].format(site=self.site_name),
            text=text,
            html=html,
            message_id=make_msgid(domain=self._domain),
        )
