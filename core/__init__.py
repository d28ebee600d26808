"""KNU MES core: the FastAPI MES, one package per domain over a small shared kernel."""
