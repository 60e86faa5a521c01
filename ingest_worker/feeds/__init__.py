"""One module per feed kind; each turns its protocol into shared.status.Observation."""
