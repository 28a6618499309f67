"""Rules every product follows, wherever it is stored or shown."""

# A product has up to five photos, in slots 1 to 5 (the frontend's image_1..image_5).
IMAGE_SLOTS = 5

# Tracked stock runs from 0 (sold out) to this; untracked stock is null.
MAX_STOCK = 100_000


def is_sold_out(stock: int | None) -> bool:
    """Tracked stock at 0: shoppers see "Sold out", never the count."""
    return stock == 0
