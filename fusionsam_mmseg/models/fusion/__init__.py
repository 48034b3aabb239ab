"""Image-fusion networks (source images in, one fused image out).

None of mmseg's rooms (backbone -> neck -> head -> segmentor) holds a
network whose output is an image: SAGE's SAM-guided teacher
(``SAGETeacher``, with its Semantic Persistent Attention stages), its
SAM-free student (``SAGEStudent``) and ``SAGE``, the bi-level model that
trains both, live here.
"""
from .sage import SAGE  # noqa: F401
from .sage_student import SAGEStudent  # noqa: F401
from .sage_teacher import SAGETeacher  # noqa: F401
