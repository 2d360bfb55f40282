"""The digital mayor's office: the live city board (/ops for staff, /city for citizens)."""
