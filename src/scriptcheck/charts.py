"""Charts for QA analysts (`scriptcheck.notebook.charts`): `import scriptcheck.charts` keeps working."""

from .notebook.charts import *  # noqa: F403
from .notebook.charts import __all__  # noqa: F401
