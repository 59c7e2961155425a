"""Energy-based and reservoir models."""
