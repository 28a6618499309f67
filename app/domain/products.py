"""Rules every product follows, wherever it is stored or shown."""

# A product has up to five photos, in slots 1 to 5 (the frontend's image_1..image_5).
IMAGE_SLOTS = 5
