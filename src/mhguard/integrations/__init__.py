"""Drop-in guards for the chat clients people already use.

Each integration lives in its own module and imports its SDK only when that module is imported, so
``import mhguard`` (or this package) never pulls in openai, anthropic or langchain:

- :func:`mhguard.integrations.openai.guard_openai` (``pip install 'mhguard[openai]'``)
- :func:`mhguard.integrations.anthropic.guard_anthropic` (``pip install 'mhguard[anthropic]'``)
- :class:`mhguard.integrations.langchain.GuardedRunnable` (``pip install 'mhguard[langchain]'``)
"""

__all__: list[str] = []
