"""/artifacts/{artifactId}: the artifact rendered, its version history with a diff between any
two versions, and (reviewers, admins) its status."""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.errors import FunctionError, Unavailable
from app.components.diff import diff_lines, diff_stats, diff_view
from app.components.layout import page_frame, signed_in_page
from app.components.markdown import safe_markdown
from app.components.ui import choice, detail_or_missing, status_badge
from app.formatting import when, with_times
from app.state import (
    AuthState,
    NotSignedIn,
    error_toast,
    last_path_segment,
)

STATUSES = ["draft", "pending_review", "approved", "rejected", "final"]


class ArtifactState(AuthState):
    loading: bool = True
    found: bool = True
    artifact: dict[str, Any] = {}
    versions: list[dict[str, Any]] = []
    shown_version: str = ""
    diff_from: str = ""
    diff_to: str = ""
    diff: list[dict[str, Any]] = []
    saving: bool = False

    @rx.var
    def artifact_id(self) -> str:
        return last_path_segment(self.router.url.path)

    @rx.var
    def version_numbers(self) -> list[str]:
        return [str(version["version"]) for version in self.versions]

    @rx.var
    def shown_content(self) -> str:
        for version in self.versions:
            if str(version["version"]) == self.shown_version:
                return version["content"]
        return self.artifact.get("content", "")

    @rx.var
    def diff_summary(self) -> str:
        return diff_stats(self.diff) if self.diff else ""

    @rx.event
    async def load(self):
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading, self.artifact, self.versions, self.diff = True, {}, [], []
        yield
        try:
            await self._load()
        except NotSignedIn:
            yield self._to_signin()
        except (FunctionError, Unavailable) as exc:
            yield error_toast(exc)
        finally:
            self.loading = False

    async def _load(self) -> None:
        doc = await self._call("artifacts:get", {"artifactId": self.artifact_id})
        self.found = doc is not None
        if doc is None:
            return
        row = with_times(doc, "updatedTime")
        row["title"] = doc.get("title") or ""
        self.artifact = row
        versions = await self._call("artifacts:versions", {"artifactId": self.artifact_id})
        self.versions = [
            {
                "version": version["version"],
                "status": version["status"],
                "content": version["content"],
                "createdBy": version["createdBy"],
                "createdText": when(version["_creationTime"]),
            }
            for version in versions
        ]
        self.shown_version = str(doc["version"])
        if len(self.versions) >= 2:
            self.diff_from = str(self.versions[-2]["version"])
            self.diff_to = str(self.versions[-1]["version"])
            self._compute_diff()

    def _compute_diff(self) -> None:
        by_number = {str(v["version"]): v["content"] for v in self.versions}
        old, new = by_number.get(self.diff_from), by_number.get(self.diff_to)
        self.diff = [] if old is None or new is None else diff_lines(old, new)

    @rx.event
    def set_diff_from(self, version: str):
        self.diff_from = version
        self._compute_diff()

    @rx.event
    def set_diff_to(self, version: str):
        self.diff_to = version
        self._compute_diff()

    @rx.event
    def show_version(self, version: str):
        self.shown_version = version

    @rx.event
    async def set_status(self, status: str):
        """artifacts:update with the status only; the registry allows reviewers and admins."""
        if status not in STATUSES:
            return rx.toast.error(f"Unknown status {status!r}")
        self.saving = True
        try:
            await self._call("artifacts:update", {"artifactId": self.artifact_id, "status": status})
        except NotSignedIn:
            return self._to_signin()
        except (FunctionError, Unavailable) as exc:
            return error_toast(exc)
        finally:
            self.saving = False
        self.artifact = {**self.artifact, "status": status}
        return rx.toast.success(f"Status set to {status.replace('_', ' ')}.")


def _history() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Version history", size="3"),
            rx.foreach(
                ArtifactState.versions,
                lambda v: rx.flex(
                    rx.button(
                        "v",
                        v["version"],
                        size="1",
                        variant=rx.cond(
                            ArtifactState.shown_version == v["version"].to(str), "solid", "soft"
                        ),
                        on_click=ArtifactState.show_version(v["version"].to(str)),
                    ),
                    status_badge(v["status"].to(str)),
                    rx.text(v["createdText"], size="1", color_scheme="gray"),
                    rx.text(v["createdBy"], size="1", color_scheme="gray", class_name="mono"),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
            ),
            rx.cond(
                ArtifactState.versions.length() > 1,
                rx.vstack(
                    rx.flex(
                        rx.text("Compare", size="2"),
                        choice(
                            ArtifactState.version_numbers,
                            ArtifactState.diff_from,
                            ArtifactState.set_diff_from,
                            "Old version",
                            "diff-from",
                            size="1",
                        ),
                        rx.text("with", size="2"),
                        choice(
                            ArtifactState.version_numbers,
                            ArtifactState.diff_to,
                            ArtifactState.set_diff_to,
                            "New version",
                            "diff-to",
                            size="1",
                        ),
                        rx.code(ArtifactState.diff_summary),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    diff_view(ArtifactState.diff),
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _detail() -> rx.Component:
    artifact = ArtifactState.artifact
    return rx.vstack(
        rx.link(
            rx.flex(rx.icon("arrow-left", size=14), "Artifacts", align="center", spacing="1"),
            href="/artifacts",
            size="2",
        ),
        rx.flex(
            rx.heading(
                rx.cond(artifact["title"].to(str) != "", artifact["title"], "(untitled)"),
                size="6",
                as_="h1",
            ),
            rx.badge(artifact["type"], variant="outline"),
            status_badge(artifact["status"].to(str)),
            rx.text("v", artifact["version"], size="2", color_scheme="gray"),
            rx.spacer(),
            rx.cond(
                ArtifactState.may_set_artifact_status,
                rx.flex(
                    rx.text("Set status", size="2"),
                    choice(
                        STATUSES,
                        artifact["status"].to(str),
                        ArtifactState.set_status,
                        "Set status",
                        "set-status",
                        disabled=ArtifactState.saving,
                    ),
                    spacing="2",
                    align="center",
                ),
            ),
            spacing="3",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        rx.text(
            "Thread ",
            rx.link(
                artifact["threadId"],
                href="/threads/" + artifact["threadId"].to(str),
                class_name="mono",
            ),
            " · updated ",
            artifact["updatedTimeText"],
            size="2",
            color_scheme="gray",
        ),
        rx.grid(
            rx.card(
                rx.vstack(
                    rx.heading("Version ", ArtifactState.shown_version, size="3"),
                    rx.box(
                        safe_markdown(ArtifactState.shown_content),
                        class_name="plan-box",
                        width="100%",
                        data_testid="artifact-content",
                    ),
                    width="100%",
                ),
                width="100%",
                min_width="0",
            ),
            _history(),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def artifact_page() -> rx.Component:
    return page_frame(
        detail_or_missing(
            ArtifactState.loading,
            ArtifactState.found,
            _detail(),
            "Artifact not found",
            "Back to artifacts",
            "/artifacts",
        )
    )


def add(app: rx.App) -> None:
    app.add_page(
        artifact_page,
        route="/artifacts/[artifact_id_param]",
        title="Artifact · Threadline",
        on_load=signed_in_page(ArtifactState.load),
    )
