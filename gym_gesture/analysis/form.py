"""Push-up form feedback: joint angles over a clip -> a logistic regression -> "form: good" / "check your form".

The features are the angles a coach looks at (is the body a straight line from shoulders to ankles, how
deep do the elbows bend, are the knees straight), summarized over the clip's frames, so the verdict can
show the numbers behind it. The model is a scikit-learn logistic regression over standardized features;
it is stored as plain JSON (feature names, scaler, coefficients, held-out metrics), never as a pickle.
Trained and evaluated on `../shared/data/keypoints/pushup_form_mediapipe33.npz` (`correct*` / `wrong*`
clip ids), split by clip: `gym-gesture train-form`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .prediction import FormVerdict
from ..model.skeleton import convert, get_layout, joint_angle

_H36M = get_layout("h36m17").index
GOOD, CHECK = "form: good", "check your form"
# What a large negative contribution of each feature means, for the one-line hint under the verdict.
_HINTS = {
    "body_line": "keep your body in a straight line from shoulders to ankles",
    "body_line_worst": "keep your body in a straight line from shoulders to ankles",
    "hip_offset": "keep your hips in line with your shoulders and ankles",
    "hip_sag_max": "do not let your hips sag",
    "hip_pike_max": "do not push your hips up",
    "elbow_min": "bend your elbows more: go lower",
    "elbow_max": "straighten your arms at the top",
    "elbow_range": "use the full range: arms straight at the top, bent at the bottom",
    "knee": "keep your knees straight",
    "neck": "keep your head in line with your back",
}


def _mid(keypoints: np.ndarray, joint: str) -> np.ndarray:
    return (keypoints[:, _H36M[f"left_{joint}"]] + keypoints[:, _H36M[f"right_{joint}"]]) / 2


def joint_angle_series(keypoints: np.ndarray, layout: str) -> dict[str, np.ndarray]:
    """Per-frame form angles (T,) of a push-up sequence (T, J, C) in `layout`; NaN where no person.

    body_line: shoulder-hip-ankle angle (180: straight). hip_offset: the hips' distance from the
    shoulder-ankle line in body lengths, positive when they sag below it, negative when piked above.
    elbow: shoulder-elbow-wrist angle. knee: hip-knee-ankle angle. neck: head-thorax-pelvis angle.
    """
    k = convert(np.asarray(keypoints, dtype=np.float32), layout)
    shoulder, hip, ankle = _mid(k, "shoulder"), _mid(k, "hip"), _mid(k, "ankle")
    line = ankle[:, :2] - shoulder[:, :2]
    to_hip = hip[:, :2] - shoulder[:, :2]
    length = np.linalg.norm(line, axis=-1) + 1e-9
    # Signed distance from the line (2-D cross product), oriented so that "below" (larger image y) is +.
    offset = (line[:, 0] * to_hip[:, 1] - line[:, 1] * to_hip[:, 0]) / length ** 2
    offset *= np.sign(line[:, 0] + 1e-9)  # the same sign whichever way the person faces
    elbows = np.stack([joint_angle(k[:, _H36M[f"{s}_shoulder"]], k[:, _H36M[f"{s}_elbow"]], k[:, _H36M[f"{s}_wrist"]])
                       for s in ("left", "right")])
    knees = np.stack([joint_angle(k[:, _H36M[f"{s}_hip"]], k[:, _H36M[f"{s}_knee"]], k[:, _H36M[f"{s}_ankle"]])
                      for s in ("left", "right")])
    return {
        "body_line": joint_angle(shoulder, hip, ankle),
        "hip_offset": offset,
        "elbow": elbows.mean(0),
        "knee": knees.mean(0),
        "neck": joint_angle(k[:, _H36M["head"]], k[:, _H36M["thorax"]], k[:, _H36M["pelvis"]]),
    }


def form_features(keypoints: np.ndarray, layout: str) -> dict[str, float]:
    """One clip's form features: robust summaries of `joint_angle_series` over its frames.

    Raises ValueError when no frame has a person.
    """
    series = joint_angle_series(keypoints, layout)
    if not np.isfinite(series["body_line"]).any():
        raise InputError("no frame with a person: cannot judge push-up form")
    p = {name: np.nanpercentile(values, [5, 50, 95]) for name, values in series.items()}
    return {
        "body_line": float(p["body_line"][1]),
        "body_line_worst": float(p["body_line"][0]),
        "hip_offset": float(p["hip_offset"][1]),
        "hip_sag_max": float(p["hip_offset"][2]),
        "hip_pike_max": float(p["hip_offset"][0]),
        "elbow_min": float(p["elbow"][0]),
        "elbow_max": float(p["elbow"][2]),
        "elbow_range": float(p["elbow"][2] - p["elbow"][0]),
        "knee": float(p["knee"][1]),
        "neck": float(p["neck"][1]),
    }


FEATURES = (
    "body_line", "body_line_worst", "hip_offset", "hip_sag_max", "hip_pike_max",
    "elbow_min", "elbow_max", "elbow_range", "knee", "neck",
)


@dataclass
class FormModel:
    """A fitted logistic regression over standardized `features`: P(good form) = sigmoid(w . z + b)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    metrics: dict

    def _standardized(self, features: dict[str, float]) -> np.ndarray:
        return (np.array([features[name] for name in self.features]) - self.mean) / self.scale

    def probability_good(self, features: dict[str, float]) -> float:
        return float(1.0 / (1.0 + np.exp(-(self._standardized(features) @ self.coef + self.intercept))))

    def contributions(self, features: dict[str, float]) -> dict[str, float]:
        """Each feature's term in the logit: the most negative one is what pulled the verdict down."""
        return dict(zip(self.features, (self._standardized(features) * self.coef).tolist()))

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({
            "model": "logistic regression over standardised push-up form features (gym_gesture.analysis.form)",
            "features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept, "metrics": self.metrics,
        }, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> FormModel:
        try:
            data = json.loads(Path(path).read_text())
            return cls(tuple(data["features"]), np.array(data["mean"]), np.array(data["scale"]),
                       np.array(data["coef"]), float(data["intercept"]), data.get("metrics", {}))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise InputError(f"{path}: not a push-up form model ({error})") from error


def load_form_clips(npz_path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Clip ids, features (N, F) and labels (N,: 1 good form, 0 wrong) of the labeled push-up archive."""
    archive = np.load(npz_path)
    clip_ids, rows, labels = [], [], []
    for key in sorted(archive.keys()):
        clip_id = key.split("/")[-1]
        if not clip_id.startswith(("correct", "wrong")):
            raise InputError(f"{npz_path}: clip {key!r} is neither correct* nor wrong*")
        features = form_features(archive[key][..., :3].astype(np.float32), "mediapipe33")
        clip_ids.append(clip_id)
        rows.append([features[name] for name in FEATURES])
        labels.append(int(clip_id.startswith("correct")))
    return clip_ids, np.array(rows), np.array(labels)


def train_form_model(npz_path: str | Path, test_size: float = 0.25, seed: int = 0) -> FormModel:
    """Fit on a stratified, seeded split by clip; the metrics are those of the held-out clips."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clip_ids, x, y = load_form_clips(npz_path)
    train, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x[train])
    classifier = LogisticRegression(max_iter=1000).fit(scaler.transform(x[train]), y[train])
    predicted = classifier.predict(scaler.transform(x[test]))
    # One split of 49 clips is noisy: the 5-fold figure over all clips says how much.
    folds = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), x, y,
                            cv=StratifiedKFold(5, shuffle=True, random_state=seed))
    metrics = {
        "data": Path(npz_path).name, "split": f"by clip, stratified, test_size={test_size}, seed={seed}",
        "train_clips": len(train), "test_clips": len(test),
        "test_accuracy": round(float(accuracy_score(y[test], predicted)), 4),
        "test_f1_good": round(float(f1_score(y[test], predicted)), 4),
        "test_f1_macro": round(float(f1_score(y[test], predicted, average="macro")), 4),
        "cv5_accuracy_mean": round(float(folds.mean()), 4), "cv5_accuracy_std": round(float(folds.std()), 4),
        "test_clip_ids": sorted(clip_ids[i] for i in test),
    }
    return FormModel(FEATURES, scaler.mean_, scaler.scale_, classifier.coef_[0],
                     float(classifier.intercept_[0]), metrics)


def form_verdict(keypoints: np.ndarray, layout: str, model: FormModel, threshold: float = 0.5) -> FormVerdict:
    """Judge the push-up form of a sequence (T, J, C) in `layout`."""
    features = form_features(keypoints, layout)
    probability = model.probability_good(features)
    if probability >= threshold:
        return FormVerdict(GOOD, probability, features, None)
    worst = min(model.contributions(features).items(), key=lambda item: item[1])[0]
    return FormVerdict(CHECK, probability, features, _HINTS[worst])
