int flowd_shim_placeholder(void);
