"""/artifacts/{artifactId}: the artifact rendered, its version history with a diff between any
two versions, and (reviewers, admins) its status."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx

from app.components.diff import diff_stats
from app.components.layout import page_frame, signed_in_page
from app.components.markdown import renderable, safe_markdown
from app.components.ui import choice, detail_or_missing, status_badge
from app.components.versions import (
    open_artifact,
    shown_notice,
    shown_text,
    version_compare,
    version_diff,
)
from app.formatting import with_times
from app.routes import ARTIFACT, thread_url
from app.state import (
    AuthState,
    api_download,
    last_path_segment,
)

STATUSES = ["draft", "pending_review", "approved", "rejected", "final"]


class ArtifactState(AuthState):
    loading: bool = True
    found: bool = True
    artifact: dict[str, Any] = {}
    # Number, status, author, time and size of each version; never their content.
    versions: list[dict[str, Any]] = []
    shown_version: str = ""
    # The shown version's text as rendered (cut to versions.MAX_RENDER_CHARS) and what was cut.
    shown_content: str = ""
    shown_notice: str = ""
    diff_from: str = ""
    diff_to: str = ""
    diff: list[dict[str, Any]] = []
    diff_notice: str = ""
    saving: bool = False

    @rx.var
    def artifact_id(self) -> str:
        return last_path_segment(self.router.url.path)

    @rx.var
    def shown_markdown(self) -> str:
        return renderable(self.shown_content)

    @rx.var
    def version_numbers(self) -> list[str]:
        return [str(version["version"]) for version in self.versions]

    @rx.var
    def diff_summary(self) -> str:
        return diff_stats(self.diff) if self.diff else ""

    @rx.event
    async def load(self):
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading, self.artifact, self.versions, self.diff = True, {}, [], []
        self.shown_content = self.shown_notice = self.diff_notice = ""
        yield
        async with self._caught("loading") as failed:
            await self._load()
        if failed:
            yield failed.event

    async def _load(self) -> None:
        opened = await open_artifact(self._signed_in_caller(), self.artifact_id)
        self.found = opened is not None
        if opened is None:
            return
        doc = opened["artifact"]
        row = with_times(doc, "updatedTime")
        row["title"] = doc.get("title") or ""
        self.artifact = row
        self.versions = opened["versions"]
        self.shown_version = str(doc["version"])
        self.shown_content, self.shown_notice = opened["text"], opened["notice"]
        self.diff_from, self.diff_to = opened["diffFrom"], opened["diffTo"]
        self.diff, self.diff_notice = opened["diff"].lines, opened["diff"].notice

    def _version(self, version: str) -> int | None:
        """A version number this page lists (event arguments are untrusted), else None."""
        return int(version) if version in self.version_numbers else None

    async def _compute_diff(self):
        old, new = self._version(self.diff_from), self._version(self.diff_to)
        if old is None or new is None:
            self.diff, self.diff_notice = [], ""
            return None
        async with self._caught() as failed:
            comparison = await version_diff(self._signed_in_caller(), self.artifact_id, old, new)
        if failed:
            return failed.event
        self.diff, self.diff_notice = comparison.lines, comparison.notice
        return None

    @rx.event
    async def set_diff_from(self, version: str):
        self.diff_from = version
        return await self._compute_diff()

    @rx.event
    async def set_diff_to(self, version: str):
        self.diff_to = version
        return await self._compute_diff()

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
                    rx.text(v["sizeText"], size="1", color_scheme="gray"),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
            ),
            rx.cond(
                ArtifactState.versions.length() > 1,
                version_compare(
                    ArtifactState.version_numbers,
                    ArtifactState.diff_from,
                    ArtifactState.diff_to,
                    ArtifactState.set_diff_from,
                    ArtifactState.set_diff_to,
                    ArtifactState.diff_summary,
                    ArtifactState.diff,
                    ArtifactState.diff_notice,
                    test_ids=("diff-from", "diff-to"),
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
                href=thread_url(artifact["threadId"]),
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
                    shown_notice(ArtifactState.shown_notice, ArtifactState.download_version),
                    rx.box(
                        safe_markdown(ArtifactState.shown_markdown),
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
        route=ARTIFACT,
        title="Artifact · Threadline",
        on_load=signed_in_page(ArtifactState.load),
    )
