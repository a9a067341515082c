"""What the live demo needs outside Streamlit: a reader thread, pacing, the race, and the words it shows."""
