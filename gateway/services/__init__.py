"""What both faces call: the job and webhook services, auth, listing, the job event hub,
the error tree."""
