"""newsstream: news ingestion pipeline."""
