
/*
 * The nginx core functions the fuzz targets are linked with
 * (ngx_core_stand_in.c), beyond those nginx's headers declare.
 */


#ifndef _NGX_CORE_STAND_IN_H_INCLUDED_
#define _NGX_CORE_STAND_IN_H_INCLUDED_


/* frees every ngx_pnalloc() since the last call: one pool per input */
void ngx_rce_fuzz_pool_free(void);


#endif /* _NGX_CORE_STAND_IN_H_INCLUDED_ */
