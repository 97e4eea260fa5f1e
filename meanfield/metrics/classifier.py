"""Mode collapse measured by a classifier trained on real data (docs/model.md §11, docs/digits.md).

A classifier trained on the real training images labels a set of images (generated or real); the
collapse statistics of the set are

- ``histogram``: the fraction of images predicted in each class, ``[C]``;
- ``entropy``: H = −Σ_c p_c ln p_c of that histogram (0 ln 0 = 0), between 0 (all images in one
  class) and ln C (uniform; ln 10 ≈ 2.303 for the digits); ``entropy_ratio`` is H / ln C;
- ``coverage``: the number of classes holding at least ``min_share`` of the images (default 1 %).
  A class is *covered* when it receives that share; for 540 held-out digits, 1 % is about 5
  images, and a uniform histogram over 10 classes has 10 % per class, so a covered class is
  present in a non-trivial amount, not by a stray misclassification;
- ``confidence``: the mean over images of the classifier's largest predicted probability (how much
  the images look like *some* class; blurry averages of several digits score low);
- ``accuracy``: only for labelled sets (real held-out images), the fraction predicted correctly.

The classifier is the same as :func:`meanfield.metrics.marginals.tstr_f1`'s: scikit-learn's
multinomial ``LogisticRegression`` (L2, C = 1, lbfgs) after standardising each feature with the
training data's mean and standard deviation; its training problem is convex, so it is determined by
the data (no seed). On the 8×8 digits it is about 96 % accurate on held-out images.
"""

from __future__ import annotations

import numpy as np

#: Share of the images a class must receive to count as covered.
MIN_SHARE = 0.01


def fit_classifier(x, y, *, C: float = 1.0):
    """A probabilistic classifier trained on real data: standardisation, then logistic regression.

    Args:
        x: ``[n, ...]`` inputs (trailing axes are flattened into features).
        y: ``[n]`` integer labels 0..C−1, at least two classes.
        C: inverse strength of the L2 penalty.

    Returns:
        A fitted scikit-learn pipeline (``predict_proba`` gives ``[n, classes]``).
    """
    # Imported here: the other metrics must not need scikit-learn.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, np.float64)
    x = x.reshape(len(x), -1)
    y = np.asarray(y)
    if len(x) != len(y) or len(np.unique(y)) < 2:
        raise ValueError(f"fit_classifier: expected x [n, ...] and labels [n] of at least two "
                         f"classes, got {x.shape} and {y.shape} with {len(np.unique(y))} classes")
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(x, y)


def histogram_entropy(histogram) -> float:
    """−Σ p ln p of a histogram of fractions (0 ln 0 = 0)."""
    p = np.asarray(histogram, np.float64)
    p = p[p > 0]
    return max(0.0, float(-(p * np.log(p)).sum()))


def collapse_statistics(probabilities, labels=None, *, min_share: float = MIN_SHARE) -> dict:
    """The collapse statistics of a set of images from the classifier's probabilities.

    Args:
        probabilities: ``[n, C]`` predicted class probabilities of the n images (rows sum to 1).
        labels: ``[n]`` true labels (real images), or None (generated images: no accuracy).
        min_share: share of the images that makes a class covered.

    Returns:
        ``histogram`` ``[C]`` (list), ``entropy``, ``entropy_ratio`` (H / ln C), ``coverage``
        (int), ``confidence``, ``n``, and ``accuracy`` when ``labels`` is given (module docstring).
    """
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or not len(p) or p.shape[1] < 2:
        raise ValueError(f"collapse_statistics: expected probabilities [n, C] with n >= 1 and "
                         f"C >= 2, got shape {p.shape}")
    C = p.shape[1]
    predicted = p.argmax(1)
    hist = np.bincount(predicted, minlength=C) / len(p)
    h = histogram_entropy(hist)
    out = {"histogram": hist.tolist(), "entropy": h, "entropy_ratio": float(h / np.log(C)),
           "coverage": int((hist >= min_share).sum()), "confidence": float(p.max(1).mean()),
           "n": int(len(p))}
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(p),):
            raise ValueError(f"collapse_statistics: expected labels [{len(p)}], got shape "
                             f"{labels.shape}")
        out["accuracy"] = float((predicted == labels).mean())
    return out


def image_statistics(classifier, x, labels=None, *, min_share: float = MIN_SHARE) -> dict:
    """:func:`collapse_statistics` of images ``x`` ``[n, ...]`` under a fitted classifier
    (:func:`fit_classifier`)."""
    x = np.asarray(x, np.float64)
    return collapse_statistics(classifier.predict_proba(x.reshape(len(x), -1)), labels,
                               min_share=min_share)
