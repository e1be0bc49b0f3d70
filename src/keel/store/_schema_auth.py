"""Tables for users, API tokens, project roles and server keys (the server's own area).

Token and password columns hold digests only: a token is shown once when created and can
never be read back.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, DatedBlobFile, optional_ref, parent, serial


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = serial()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(Text, default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = serial()
    user_id: Mapped[int] = parent("users", index=True)
    name: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ProjectMemberRow(Base):
    __tablename__ = "project_members"
    project_id: Mapped[int] = parent("projects", primary_key=True)
    user_id: Mapped[int] = parent("users", primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))


class ServerKeyRow(Base):
    """Random secrets shared by every server worker (e.g. the key signing upload receipts)."""

    __tablename__ = "server_keys"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)


class LoggedModelRow(Base):
    """An MLflow 3 "logged model": a named model folder logged from a run (MLflow API only)."""

    __tablename__ = "logged_models"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[int] = parent("experiments", index=True)
    name: Mapped[str] = mapped_column(String(255))
    source_run_id: Mapped[str | None] = optional_ref("runs", index=True)
    model_type: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str] = mapped_column(Text, default="")
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    tags_json: Mapped[str] = mapped_column(Text, default="{}")


class LoggedModelFileRow(DatedBlobFile, Base):
    __tablename__ = "logged_model_files"
    model_id: Mapped[str] = parent("logged_models", primary_key=True)
