"""What a person sees and reads: the skeleton overlay, the timeline chart, the wording."""
