# rce (docker/lang/python): matplotlib's font list, built when the image was
# made, linked into the cache folder matplotlib reads it from (MPLCONFIGDIR,
# else $XDG_CACHE_HOME/matplotlib, else $HOME/.cache/matplotlib), which in a
# job, HOME being a fresh tmpfs, never has it: `import matplotlib` then does
# not scan the fonts again (~0.1 s).  A symbolic link, not a copy: two
# mkdirs and a symlink at each start (the folder must stay writable for
# matplotlib to use it).  Only os, which site has imported before this runs.
def _rce_matplotlib_fontlist(name='@FONTLIST@'):
    import os
    env = os.environ
    cache = env.get('MPLCONFIGDIR') or os.path.join(
        env.get('XDG_CACHE_HOME') or os.path.join(env.get('HOME') or '/nonexistent', '.cache'), 'matplotlib')
    try:
        os.makedirs(cache, exist_ok=True)
        os.symlink('/opt/rce/matplotlib/' + name, os.path.join(cache, name))
    except OSError:
        pass                        # there already, or no HOME: matplotlib builds the list itself


_rce_matplotlib_fontlist()
del _rce_matplotlib_fontlist
