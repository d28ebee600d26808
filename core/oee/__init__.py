"""OEE: availability x performance x quality with the six big losses."""
