"""The task ``template`` block: caravan's template language and the re-render loop.

- :mod:`.render`: Jinja2 in a sandbox with ``services()``, ``service()``,
  ``nomad_service()`` and ``env()`` (:class:`CompiledTemplate`);
- :mod:`.spec`: a ``template`` block checked against its task directory
  (:func:`prepare`, :class:`TemplateSpec`);
- :mod:`.manager`: :class:`TemplateManager`, the first render and the watch loop with
  change modes and splay.

The task-runner hook that drives them is :mod:`caravan.client.hooks.template_hook`.
"""

from .manager import Catalog, TaskLifecycle, TemplateManager
from .render import CompiledTemplate, ServiceEntry, TemplateRenderError
from .spec import TemplateSpec, TemplateSpecError, parse_env_file, prepare, resolve_path

__all__ = [
    "Catalog",
    "CompiledTemplate",
    "ServiceEntry",
    "TaskLifecycle",
    "TemplateManager",
    "TemplateRenderError",
    "TemplateSpec",
    "TemplateSpecError",
    "parse_env_file",
    "prepare",
    "resolve_path",
]
