from .sgd_adam import SGDAdam

__all__ = ['SGDAdam']
