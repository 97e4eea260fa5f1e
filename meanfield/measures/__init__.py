"""Laws (latent, target) with their quadrature rules, and expectations as weighted points."""
