"""The demo portal: a page on its own origin that uses every native method through the JS
client, and a small server behind it that issues ``auth`` challenges and checks the Web eID
tokens that come back (what a real portal's back end does).  ``tanba demo`` runs it."""
