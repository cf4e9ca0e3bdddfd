/* Shared libraries that are not memoir plugins, for the CLI's errors:
 * built plain (no memoir_plugin entry point), and with
 * NOT_A_PLUGIN_UNRESOLVED (it needs a symbol that nothing defines). */
#ifdef NOT_A_PLUGIN_UNRESOLVED
extern int memoir_test_symbol_nobody_defines(void);
int not_a_plugin(void) { return memoir_test_symbol_nobody_defines(); }
#else
int not_a_plugin(void) { return 42; }
#endif
