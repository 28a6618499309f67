"""Links that open a WhatsApp chat with a message already typed."""

from urllib.parse import quote


def wa_me_url(digits: str, text: str) -> str:
    """`https://wa.me/<digits>?text=<message>`; every reserved character of the text encoded."""
    return f"https://wa.me/{digits}?text={quote(text, safe='')}"
