"""The admin's jobs pages: the queue's jobs, read-only, with retry and
cancel. They read and change the jobs through the queue's public API, so
they work on every store."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

import dataqueue as dq
from dataqueue.contrib.django.models import Job
from dataqueue.contrib.django.queues import shared_queue

PAGE_SIZE = 50
ACTIONS = {"retry": dq.SyncJobQueue.retry_job, "cancel": dq.SyncJobQueue.cancel_job}


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.jobs_view), name="dataqueue_job_changelist"),
            path("<int:job_id>/", view(self.job_view), name="dataqueue_job_change"),
            path(
                "<int:job_id>/<str:action>/",
                view(self.action_view),
                name="dataqueue_job_action",
            ),
        ]

    def jobs_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        status = request.GET.get("status") or None
        if status is not None and status not in dq.JobStatus.__members__.values():
            status = None
        page = max(int(request.GET.get("page", "0") or 0), 0)
        queue = shared_queue()
        jobs = queue.get_jobs(
            status=status, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE
        )
        return TemplateResponse(
            request,
            "admin/dataqueue/jobs.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Jobs",
                "jobs": jobs[:PAGE_SIZE],
                "statuses": [s.value for s in dq.JobStatus],
                "status": status,
                "page": page,
                "has_next": len(jobs) > PAGE_SIZE,
            },
        )

    def job_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        queue = shared_queue()
        job = queue.get_job(job_id)
        if job is None:
            raise Http404(f"no job {job_id}")
        return TemplateResponse(
            request,
            "admin/dataqueue/job.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Job {job.id} ({job.job_type})",
                "job": job,
                "events": queue.get_job_events(job.id),
                "can_change": self.has_change_permission(request),
            },
        )

    def action_view(
        self, request: HttpRequest, job_id: int, action: str
    ) -> HttpResponse:
        if request.method != "POST" or action not in ACTIONS:
            raise Http404(f"no action {action!r}")
        if not self.has_change_permission(request):
            raise PermissionDenied
        changed = ACTIONS[action](shared_queue(), job_id)
        if changed is False:
            self.message_user(
                request,
                f"Job {job_id} was not changed: only failed or cancelled jobs are "
                "retried, only pending or waiting jobs are cancelled.",
                messages.WARNING,
            )
        else:
            self.message_user(
                request, f"Job {job_id}: {action} done.", messages.SUCCESS
            )
        return HttpResponseRedirect(
            reverse("admin:dataqueue_job_change", args=[job_id])
        )
