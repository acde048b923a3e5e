import pytest

from gym_gesture.data.labels import CLASS_NAMES, canonical_label, id2label, label2id, normalize_label


def test_the_22_classes_in_the_paper_order():
    assert len(CLASS_NAMES) == 22 == len(set(CLASS_NAMES))
    assert CLASS_NAMES[0] == "barbell biceps curl" and CLASS_NAMES[-1] == "tricep pushdown"
    assert list(CLASS_NAMES) == sorted(CLASS_NAMES)


def test_id2label_and_label2id_are_inverse():
    assert {name: index for index, name in id2label().items()} == label2id()
    assert label2id()["squat"] == 18


@pytest.mark.parametrize(
    "name, expected",
    [
        ("push-up", "push up"),
        ("Push Up", "push up"),
        ("lateral raise", "lateral raises"),
        ("barbell biceps curl", "barbell biceps curl"),
        ("barbell_bicep_curl", "barbell biceps curl"),
        ("T Bar Row", "t bar row"),
        ("pull_up", "pull up"),
        ("squats", "squat"),
        ("Russian twist", "russian twist"),
    ],
)
def test_folder_names_and_variants_map_onto_canonical_names(name, expected):
    assert canonical_label(name) == expected


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown exercise 'zumba'.*bench press.*tricep pushdown"):
        canonical_label("zumba")


def test_known_subset_restricts_the_mapping():
    assert canonical_label("Push-ups", known=("push up", "squat")) == "push up"
    with pytest.raises(ValueError, match="known: push up, squat"):
        canonical_label("plank", known=("push up", "squat"))


def test_normalize_label_keeps_exercises_outside_the_22():
    assert normalize_label("Push-ups") == "push up"
    assert normalize_label(" Clean_and-Jerk ") == "clean and jerk"
