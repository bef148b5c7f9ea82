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
ROAD_USER_CLASSES: frozenset[str] = frozenset({"person", "bicycle", *VEHICLE_CLASSES})
