"""What a person runs and sees: the ``arena`` command line, matches, the viewer and reports."""
