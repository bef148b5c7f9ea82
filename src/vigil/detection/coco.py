"""COCO-80 class names and the groups Vigil cares about."""

from __future__ import annotations

COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# The one set of class groups: the pipeline keeps road users, redaction takes people (heads) and vehicles
# (plates), the rules judge vehicles, two-wheelers (riders) and road users.
PERSON_CLASSES: frozenset[str] = frozenset({"person"})
# Riders are people too: their heads are redacted from the person box, not from these.
VEHICLE_CLASSES: frozenset[str] = frozenset({"car", "motorcycle", "bus", "truck"})
TWO_WHEELER_CLASSES: frozenset[str] = frozenset({"bicycle", "motorcycle"})
# Animals that can stray onto a road (birds fly off and are left out).
ANIMAL_CLASSES: frozenset[str] = frozenset(
    {"cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}
)
ROAD_USER_CLASSES: frozenset[str] = frozenset({"person", "bicycle", *VEHICLE_CLASSES})
#: What the pipeline keeps of a detector's output: road users and animals on the road.
TRACKED_CLASSES: frozenset[str] = ROAD_USER_CLASSES | ANIMAL_CLASSES

#: Classes a detector confuses for one object (a car called truck in one frame, bus in the next; a cow
#: called dog or sheep): overlapping boxes of one group are one object for NMS and for the tracker.
CLASS_GROUPS: dict[str, str] = {
    "person": "person",
    "bicycle": "two-wheeler",
    "motorcycle": "two-wheeler",
    "car": "vehicle",
    "bus": "vehicle",
    "truck": "vehicle",
    **{name: "animal" for name in ANIMAL_CLASSES},
}


def group_of(labels) -> list[str]:  # type: ignore[no-untyped-def]
    """The group of each label (the label itself when it belongs to no group)."""
    return [CLASS_GROUPS.get(str(label), str(label)) for label in labels]
