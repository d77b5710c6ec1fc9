"""Train a distillation config's teacher (if its checkpoint is missing), then the student.

    python tools/train_distill.py CONFIG [--teacher-cfg-options k=v ...] [train.py options]

CONFIG is a ``mmext.Distiller`` config whose ``model.teacher`` names the teacher's config file
(as the Fashion-MNIST / nuclei pairs under configs/ do). When ``model.teacher_ckpt`` does not
exist, the teacher config is trained first with ``tools/train.py`` into the checkpoint's folder
(``--teacher-cfg-options`` go to that run), and the student run then loads the teacher's last
checkpoint. The other options (``--work-dir``, ``--cfg-options``, ...) go to the student's run.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import train  # noqa: E402  (tools/train.py)

from mmext.utils import ConfigError, exit_on_user_error, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='distillation config (model.type=mmext.Distiller)')
    parser.add_argument('--teacher-cfg-options', nargs='+', default=[],
                        help='config overrides for the teacher run (key=value, as --cfg-options)')
    parser.add_argument('--traceback', action='store_true', help='show full tracebacks')
    return parser.parse_known_args(argv)


def teacher_plan(config: str, student_options: dict):
    """(teacher config, teacher checkpoint) of a distillation config."""
    model = load_config(config, student_options).model
    teacher, ckpt = model.get('teacher'), model.get('teacher_ckpt')
    if not isinstance(teacher, str) or '::' in teacher or not ckpt or '://' in ckpt:
        raise ConfigError(f'{config}: model.teacher must name a local config file and '
                          'model.teacher_ckpt a local path for tools/train_distill.py.')
    return osp.relpath(osp.normpath(teacher)), ckpt


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint mmengine recorded last in ``work_dir``."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def main(argv=None):
    args, rest = parse_args(argv)
    student_options = train.parse_args([args.config] + rest).cfg_options or {}
    with exit_on_user_error(args.traceback):
        teacher, ckpt = teacher_plan(args.config, student_options)
    if not osp.isfile(ckpt):
        work_dir = osp.dirname(ckpt) or '.'
        print(f'Training the teacher {teacher} into {work_dir} ({ckpt} is missing)')
        teacher_argv = [teacher, '--work-dir', work_dir]
        if args.teacher_cfg_options:
            teacher_argv += ['--cfg-options', *args.teacher_cfg_options]
        train.main(teacher_argv + (['--traceback'] if args.traceback else []))
        ckpt = last_checkpoint(work_dir)
    print(f'Training the student of {args.config} with the teacher {ckpt}')
    # a second --cfg-options adds to (and overrides) the first
    train.main([args.config, *rest, *(['--traceback'] if args.traceback else []),
                '--cfg-options', f'model.teacher_ckpt={ckpt}'])


if __name__ == '__main__':
    main()
