from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open('mmext/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(path):
    with open(path) as f:
        return [l.split('#')[0].strip() for l in f if l.split('#')[0].strip()]


setup(
    name='mmext',
    version=read_version(),
    description='Vision research methods (attention backbones, distillation, losses, compression) '
    'as OpenMMLab 2.x components',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmext', 'mmext.*']),
    # C++ sources compiled on first use (mmext/ops)
    package_data={'mmext.ops': ['*.cpp']},
    python_requires='>=3.9',
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
