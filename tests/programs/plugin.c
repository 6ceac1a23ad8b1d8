/* The plug-in tests/programs/dl_plugin.c opens with dlopen: functions,
 * initialised and zeroed globals, a constructor and a __thread variable. */
int plugin_counter = 7;
int plugin_zeroed[16];
__thread int plugin_tls = 5;
static int constructed;

__attribute__((constructor)) static void plugin_init(void) { ++constructed; }

int plugin_constructed(void) { return constructed; }
int plugin_add(int a, int b) { return a + b + plugin_counter; }
int *plugin_counter_address(void) { return &plugin_counter; }
int plugin_tls_bump(int by) { return plugin_tls += by; }
int *plugin_tls_address(void) { return &plugin_tls; }
