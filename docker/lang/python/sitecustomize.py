
# rce (docker/lang/python): matplotlib's font list, built when the image was
# made, copied into the cache folder matplotlib reads it from (MPLCONFIGDIR,
# else $XDG_CACHE_HOME/matplotlib, else $HOME/.cache/matplotlib), which in a
# job, HOME being a fresh tmpfs, never has it: `import matplotlib` then does
# not scan the fonts again (~0.1 s).  Only os, which site has imported before
# this runs: when the list is there already, the cost is one stat.
def _rce_matplotlib_fontlist(name='@FONTLIST@'):
    import os
    env = os.environ
    cache = env.get('MPLCONFIGDIR') or os.path.join(
        env.get('XDG_CACHE_HOME') or os.path.join(env.get('HOME') or '/nonexistent', '.cache'), 'matplotlib')
    dst = os.path.join(cache, name)
    if os.path.exists(dst):
        return
    try:
        with open('/opt/rce/matplotlib/' + name, 'rb') as f:
            data = f.read()
        os.makedirs(cache, exist_ok=True)
        tmp = '%s.rce-%d' % (dst, os.getpid())
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, dst)        # whole or not at all, for a python started beside
    except OSError:
        pass                        # matplotlib builds the list itself, as without this


_rce_matplotlib_fontlist()
del _rce_matplotlib_fontlist
