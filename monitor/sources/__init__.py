"""Sources of raw platform pages: X (tweepy), archive files, and the simulator."""
