"""Time-stepping schemes over particle measures: descent–ascent (two players) and gradient flows (one measure), with their optimisers and projections."""
