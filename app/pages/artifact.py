"""/artifacts/{artifactId}: the artifact rendered, its version history with a diff between any
two versions, and (reviewers, admins) its status."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import reflex as rx

from api.vocabulary import APPROVED, DRAFT, FINAL, PENDING_REVIEW, REJECTED
from app.components.detail import (
    DetailPage,
    add_detail_page,
    back_link,
    detail_grid,
    title_line,
)
from app.components.markdown import markdown_box, renderable
from app.components.ui import choice, inline, muted, panel, status_badge
from app.components.versions import (
    VersionCompare,
    open_artifact,
    shown_notice,
    shown_text,
    version_compare,
)
from app.routes import ARTIFACT, ARTIFACTS, thread_url
from app.rows import ArtifactDetailRow
from app.state import (
    AuthState,
    api_download,
)

STATUSES = [DRAFT, PENDING_REVIEW, APPROVED, REJECTED, FINAL]


class ArtifactState(DetailPage, VersionCompare, AuthState):
    artifact: ArtifactDetailRow = ArtifactDetailRow()
    shown_version: str = ""
    # The shown version's text as rendered (cut to formatting.MAX_RENDER_CHARS) and what was cut.
    shown_content: str = ""
    shown_notice: str = ""
    saving: bool = False

    @rx.var
    def shown_markdown(self) -> str:
        """The shown version as the page renders it (markdown_box)."""
        return renderable(self.shown_content)

    @rx.var
    def artifact_id(self) -> str:
        """The route's argument (routes.ARTIFACT_ARG), from the browser's router."""
        return self.artifact_id_param

    async def _forget(self) -> None:
        self.artifact, self.versions, self.diff = ArtifactDetailRow(), [], []
        self.shown_content = self.shown_notice = self.diff_notice = ""

    async def _load(self) -> None:
        opened = await open_artifact(self._signed_in_caller(), self.artifact_id)
        self.found = opened is not None
        if opened is None:
            return
        doc = opened["artifact"]
        self.artifact = ArtifactDetailRow.of(doc)
        self.versions = opened["versions"]
        self.shown_version = str(doc["version"])
        self.shown_content, self.shown_notice = opened["text"], opened["notice"]
        self.diff_from, self.diff_to = opened["diffFrom"], opened["diffTo"]
        self.diff, self.diff_notice = opened["diff"].lines, opened["diff"].notice

    def _compared_artifact(self) -> str:
        return self.artifact_id

    @rx.event
    async def show_version(self, version: str):
        number = self._version(version)
        if number is None:
            return rx.toast.error(f"Unknown version {version!r}")
        async with self._caught() as failed:
            text, notice = await shown_text(self._call, self.artifact_id, number)
        if failed:
            return failed.event
        self.shown_version, self.shown_content, self.shown_notice = version, text, notice
        return None

    @rx.event
    def download_version(self):
        """The whole shown version as a file, on demand (it is not kept in the page): the
        browser fetches it from the API as an attachment."""
        number = self._version(self.shown_version)
        if number is None:
            return rx.toast.error("No version is shown.")
        if self._caller() is None:
            return self._to_signin()
        artifact = quote(self.artifact_id, safe="")
        return api_download(f"/api/export/artifacts/{artifact}/versions/{number}.md")

    @rx.event
    async def set_status(self, status: str):
        """artifacts:update with the status only; the registry allows reviewers and admins."""
        if status not in STATUSES:
            return rx.toast.error(f"Unknown status {status!r}")
        self.saving = True
        async with self._caught("saving") as failed:
            await self._call("artifacts:update", {"artifactId": self.artifact_id, "status": status})
        if failed:
            return failed.event
        self.artifact = dataclasses.replace(self.artifact, status=status)
        return rx.toast.success(f"Status set to {status.replace('_', ' ')}.")


def _version_line(version: rx.Var) -> rx.Component:
    number = version.version.to(str)
    return inline(
        rx.button(
            "v",
            version.version,
            size="1",
            variant=rx.cond(ArtifactState.shown_version == number, "solid", "soft"),
            on_click=ArtifactState.show_version(number),
        ),
        status_badge(version.status),
        muted(version.createdText),
        muted(version.createdBy, class_name="mono"),
        muted(version.sizeText),
        wrap="wrap",
        width="100%",
    )


def _history() -> rx.Component:
    return panel(
        rx.heading("Version history", size="3"),
        rx.foreach(ArtifactState.versions, _version_line),
        version_compare(ArtifactState, test_ids=("diff-from", "diff-to")),
    )


def _status_choice() -> rx.Component:
    return inline(
        rx.text("Set status", size="2"),
        choice(
            STATUSES,
            ArtifactState.artifact.status,
            ArtifactState.set_status,
            "Set status",
            "set-status",
            disabled=ArtifactState.saving,
        ),
    )


def _shown_version() -> rx.Component:
    return panel(
        rx.heading("Version ", ArtifactState.shown_version, size="3"),
        shown_notice(ArtifactState.shown_notice, ArtifactState.download_version),
        markdown_box(ArtifactState.shown_markdown, "artifact-content"),
        spacing="3",
        min_width="0",
    )


def _detail() -> rx.Component:
    artifact = ArtifactState.artifact
    return rx.vstack(
        back_link("Artifacts", ARTIFACTS),
        title_line(
            artifact.title,
            "(untitled)",
            rx.badge(artifact.type, variant="outline"),
            status_badge(artifact.status),
            muted("v", artifact.version, size="2"),
            rx.spacer(),
            rx.cond(ArtifactState.may_set_artifact_status, _status_choice()),
            width="100%",
        ),
        muted(
            "Thread ",
            rx.link(artifact.threadId, href=thread_url(artifact.threadId), class_name="mono"),
            " · updated ",
            artifact.updatedTimeText,
            size="2",
        ),
        detail_grid(_shown_version(), _history(), lg="2"),
        spacing="3",
        width="100%",
    )


def add(app: rx.App) -> None:
    add_detail_page(app, ArtifactState, _detail, ARTIFACT, "Artifact", ("artifacts", ARTIFACTS))
