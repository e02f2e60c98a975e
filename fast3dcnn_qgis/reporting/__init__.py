"""The HTML and JSON reports, their charts and PNG previews: numpy and the standard library only."""
