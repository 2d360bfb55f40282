"""Major projects tracker: the city's flagship projects, their milestones, documents, news and status."""
