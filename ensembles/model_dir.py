"""``ModelDir`` and ``ModelMetadata``: the one owner of what a ``tfpipe train`` output directory holds.

A model directory (local or on any store :mod:`tfpipe.pipelines.storage` handles)::

    MODEL_DIR/
      model.json        ModelMetadata: format, ensemble kind, label, data, members; written LAST (the commit marker,
                        see tfpipe.pipelines.publish): a directory without it is no finished model
      saved_model/      the one SavedModel (serving's; its own metadata in saved_model/assets.extra/tfpipe.json)
      metrics.json      metrics per split, the stages, the time limit (tfpipe.ensembles.report)
      report.html       plots and permutation importance
      features.pbtxt    the fitted feature definitions the model was trained with
      gbdt/             the tree members' boosters, as their libraries save them
      logs/             Keras / TensorBoard logs

Every stage names these paths through :class:`ModelDir` and reads and writes ``model.json`` through
:class:`ModelMetadata`, so a file of the folder has one spelling and one reader. It lives with the ensembles (the
stage that writes the folder); serving reads through it (an earlier stage), the pipelines never do.

Example::

    >>> import tempfile
    >>> model = ModelDir(tempfile.mkdtemp())
    >>> model.exists()
    False
    >>> model.write_metadata(ModelMetadata(ensemble="selection", label="income", data_dir="/data/adult",
    ...                                    members=("gbdt_0", "lgbm_0")))
    >>> model.exists(), model.read_metadata().members, storage.basename(model.saved_model)
    (True, ('gbdt_0', 'lgbm_0'), 'saved_model')
"""
from __future__ import annotations

import dataclasses
import json

from tfpipe.features.config import FEATURES_FILE
from tfpipe.pipelines import publish, storage

MODEL_FORMAT = "tfpipe.model/1"


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """The content of ``model.json``: which run made the model (checked on creation)."""

    ensemble: str
    label: str
    data_dir: str
    members: tuple = ()
    format: str = MODEL_FORMAT

    def __post_init__(self):
        if not self.format.startswith(publish.MODEL.format_prefix):
            raise ValueError(f"model.json format {self.format!r}: not a tfpipe model "
                             f"(expected {publish.MODEL.format_prefix}N)")
        for name in ("ensemble", "label"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"ModelMetadata.{name} must be a non-empty string, got {getattr(self, name)!r}")
        object.__setattr__(self, "members", tuple(self.members))

    def to_json(self) -> dict:
        return {"format": self.format, "ensemble": self.ensemble, "label": self.label, "data_dir": self.data_dir,
                "members": list(self.members)}

    @classmethod
    def from_json(cls, value: dict, where: str = "model.json") -> "ModelMetadata":
        try:
            return cls(**{field.name: value[field.name] for field in dataclasses.fields(cls) if field.name in value})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None


@dataclasses.dataclass(frozen=True)
class ModelDir:
    """The paths of one model directory, and its ``model.json``."""

    path: str

    MARKER = publish.MODEL.marker

    def _join(self, name: str) -> str:
        return storage.join(self.path, name)

    @property
    def marker(self) -> str:
        return self._join(self.MARKER)

    @property
    def saved_model(self) -> str:
        return self._join("saved_model")

    @property
    def metrics(self) -> str:
        return self._join("metrics.json")

    @property
    def report(self) -> str:
        return self._join("report.html")

    @property
    def features(self) -> str:
        return self._join(FEATURES_FILE)

    @property
    def trees(self) -> str:
        return self._join("gbdt")

    @property
    def logs(self) -> str:
        return self._join("logs")

    def exists(self) -> bool:
        """Whether the directory holds a finished model (its ``model.json``)."""
        return storage.exists(self.marker)

    def write_metrics(self, metrics: dict) -> str:
        """Writes ``metrics.json`` (numpy scalars as floats); returns its path."""
        storage.write_text(self.metrics, json.dumps(metrics, indent=2, sort_keys=True, default=float))
        return self.metrics

    def write_metadata(self, metadata: ModelMetadata) -> None:
        """Writes ``model.json`` (last, when the directory is otherwise complete: it is the commit marker)."""
        storage.write_text(self.marker, json.dumps(metadata.to_json(), indent=2, sort_keys=True))

    def read_metadata(self) -> ModelMetadata:
        if not self.exists():
            raise FileNotFoundError(f"{self.path}: no {self.MARKER} there, so no finished `tfpipe train` model (it "
                                    "is written last when a model is published); check the path")
        return ModelMetadata.from_json(json.loads(storage.read_text(self.marker)), self.marker)
