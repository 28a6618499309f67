"""Email: messages composed from templates (a text and an HTML part), and the deliverers that send
them (SMTP, or .eml files in development), run by the delivery worker for the "email" kind."""
