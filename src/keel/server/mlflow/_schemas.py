"""Request bodies of the MLflow REST API (only the fields keel uses; the rest is ignored)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from keel.server._types import Int64, Key, Millis, Name, RunId, Text

# The limits MLflow documents for log-batch.
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_TOTAL = 1000


class KeyValue(BaseModel):
    key: Key
    value: Text = ""


class MetricIn(BaseModel):
    key: Key
    value: float
    timestamp: Millis  # required, as in MLflow
    step: Int64 = 0
    model_id: Text | None = None
    dataset_name: Text | None = None
    dataset_digest: Text | None = None


class ExperimentCreate(BaseModel):
    name: Name
    artifact_location: Text | None = None
    tags: list[KeyValue] = Field(default=[], max_length=1000)


class ExperimentRef(BaseModel):
    experiment_id: Text


class ExperimentUpdate(BaseModel):
    experiment_id: Text
    new_name: Name | None = None


class ExperimentTag(BaseModel):
    experiment_id: Text
    key: Key
    value: Text = ""


class ExperimentTagDelete(BaseModel):
    experiment_id: Text
    key: Key


class ExperimentSearch(BaseModel):
    max_results: int = Field(default=1000, ge=1)
    page_token: Text | None = None
    filter: Text | None = None
    order_by: list[Text] = Field(default=[], max_length=20)
    view_type: Text | None = None


class RunRef(BaseModel):
    run_id: RunId | None = None
    run_uuid: RunId | None = None

    @property
    def id(self) -> str | None:
        return self.run_id or self.run_uuid


class RunCreate(BaseModel):
    experiment_id: Text | None = None
    user_id: Text = ""
    start_time: Millis | None = None
    tags: list[KeyValue] = Field(default=[], max_length=1000)
    run_name: Name | None = None


class RunUpdate(RunRef):
    status: Text | None = None
    end_time: Millis | None = None
    run_name: Name | None = None


class LogMetric(RunRef):
    key: Key
    value: float
    timestamp: Millis = 0
    step: Int64 = 0
    model_id: Text | None = None
    dataset_name: Text | None = None
    dataset_digest: Text | None = None


class LogParam(RunRef):
    key: Key
    value: Text = ""


class SetTag(RunRef):
    key: Key
    value: Text = ""


class DeleteTag(RunRef):
    key: Key


class LogBatch(RunRef):
    metrics: list[MetricIn] = Field(default=[], max_length=MAX_BATCH_METRICS)
    params: list[KeyValue] = Field(default=[], max_length=MAX_BATCH_PARAMS)
    tags: list[KeyValue] = Field(default=[], max_length=MAX_BATCH_TAGS)


class LogModel(RunRef):
    model_json: Text


class DatasetIn(BaseModel):
    name: Name
    digest: Text = ""
    source_type: Text = ""
    source: Text = ""
    schema_: Text = Field(default="", alias="schema")
    profile: Text = ""


class DatasetInputIn(BaseModel):
    dataset: DatasetIn
    tags: list[KeyValue] = Field(default=[], max_length=100)


class ModelRef(BaseModel):
    model_id: Text
    step: Int64 = 0


class LogInputs(RunRef):
    datasets: list[DatasetInputIn] = Field(default=[], max_length=1000)
    models: list[ModelRef] = Field(default=[], max_length=1000)


class LogOutputs(RunRef):
    models: list[ModelRef] = Field(default=[], max_length=1000)


class RunSearch(BaseModel):
    experiment_ids: list[Text] = Field(default=[], max_length=1000)
    filter: Text | None = None
    run_view_type: Text | None = None
    max_results: int = Field(default=1000, ge=1)
    order_by: list[Text] = Field(default=[], max_length=20)
    page_token: Text | None = None


class LoggedModelCreate(BaseModel):
    experiment_id: Text
    name: Name | None = None
    model_type: Text | None = None
    source_run_id: RunId | None = None
    params: list[KeyValue] = Field(default=[], max_length=1000)
    tags: list[KeyValue] = Field(default=[], max_length=1000)


class LoggedModelFinalize(BaseModel):
    status: Text


class LoggedModelTags(BaseModel):
    tags: list[KeyValue] = Field(default=[], max_length=1000)


class LoggedModelParams(BaseModel):
    params: list[KeyValue] = Field(default=[], max_length=1000)


class DatasetFilter(BaseModel):
    dataset_name: Text
    dataset_digest: Text | None = None


class OrderBy(BaseModel):
    field_name: Text
    ascending: bool = True
    dataset_name: Text | None = None
    dataset_digest: Text | None = None


class LoggedModelSearch(BaseModel):
    experiment_ids: list[Text] = Field(default=[], max_length=1000)
    filter: Text | None = None
    datasets: list[DatasetFilter] = Field(default=[], max_length=100)
    order_by: list[OrderBy] = Field(default=[], max_length=20)
    max_results: int = Field(default=100, ge=1)
    page_token: Text | None = None


# -- the model registry ---------------------------------------------------------------------
class ModelIn(BaseModel):
    name: Name
    description: Text = ""
    tags: list[KeyValue] = Field(default=[], max_length=1000)


class RegisteredModelRef(BaseModel):
    name: Name


class ModelPatch(RegisteredModelRef):
    description: Text | None = None


class ModelRename(RegisteredModelRef):
    new_name: Name


class ModelTag(RegisteredModelRef):
    key: Key
    value: Text = ""


class ModelTagRef(RegisteredModelRef):
    key: Key


class AliasIn(RegisteredModelRef):
    alias: Name
    version: Text


class AliasRef(RegisteredModelRef):
    alias: Name


class LatestIn(RegisteredModelRef):
    stages: list[Text] = Field(default=[], max_length=10)


class VersionIn(BaseModel):
    name: Name
    source: Text = ""
    run_id: RunId | None = None
    tags: list[KeyValue] = Field(default=[], max_length=1000)
    description: Text = ""
    model_id: Text | None = None


class VersionRef(BaseModel):
    name: Name
    version: Text


class VersionPatch(VersionRef):
    description: Text | None = None


class VersionTag(VersionRef):
    key: Key
    value: Text = ""


class VersionTagRef(VersionRef):
    key: Key


class StageIn(VersionRef):
    stage: Text
    archive_existing_versions: bool = False
