"""Finding projects by name and summary: PostgreSQL's full-text search (ranked, the name
weighing more than the summary) where it runs, substring matching on SQLite."""

from django.db import connection
from django.db.models import Q, QuerySet
from packaging.utils import canonicalize_name

from packyard.packages.models import Project


def project_search(query: str) -> QuerySet[Project]:
    """Projects whose name or summary matches, best first; quarantined ones never."""
    visible = Project.objects.filter(quarantined=False)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = SearchVector("name", weight="A") + SearchVector("search_summary", weight="B")
        search = SearchQuery(query, search_type="websearch")
        return (
            visible.annotate(rank=SearchRank(vector, search))
            .filter(Q(rank__gt=0) | Q(normalized_name__icontains=query))
            .order_by("-rank", "normalized_name")
        )
    return visible.filter(
        Q(normalized_name__icontains=canonicalize_name(query)) | Q(search_summary__icontains=query)
    ).order_by("normalized_name")
