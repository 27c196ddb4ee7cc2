"""What a reader sees: the text report and the timeline."""
