package vram

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

// The six NVML functions the budget needs, looked up with dlsym. go-nvml
// binds all ~400 NVML symbols as undefined references resolved at run time;
// in a c-shared library those make every C host's link fail ("undefined
// reference to nvml..."), so we open the library ourselves instead.
typedef struct { unsigned long long total, free, used; } fl_nvml_memory;
typedef int (*fl_nvml_void_fn)(void);
typedef int (*fl_nvml_count_fn)(unsigned int *);
typedef int (*fl_nvml_handle_fn)(unsigned int, void **);
typedef int (*fl_nvml_name_fn)(void *, char *, unsigned int);
typedef int (*fl_nvml_mem_fn)(void *, fl_nvml_memory *);

static void *fl_nvml_lib;
static fl_nvml_void_fn fl_nvml_init, fl_nvml_shutdown;
static fl_nvml_count_fn fl_nvml_count;
static fl_nvml_handle_fn fl_nvml_handle;
static fl_nvml_name_fn fl_nvml_name;
static fl_nvml_mem_fn fl_nvml_mem;

// 12 = NVML_ERROR_LIBRARY_NOT_FOUND, 13 = NVML_ERROR_FUNCTION_NOT_FOUND.
static int fl_nvml_open(void) {
	if (!fl_nvml_lib) {
		void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
		if (!lib)
			return 12;
		fl_nvml_init = (fl_nvml_void_fn)dlsym(lib, "nvmlInit_v2");
		fl_nvml_shutdown = (fl_nvml_void_fn)dlsym(lib, "nvmlShutdown");
		fl_nvml_count = (fl_nvml_count_fn)dlsym(lib, "nvmlDeviceGetCount_v2");
		fl_nvml_handle = (fl_nvml_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
		fl_nvml_name = (fl_nvml_name_fn)dlsym(lib, "nvmlDeviceGetName");
		fl_nvml_mem = (fl_nvml_mem_fn)dlsym(lib, "nvmlDeviceGetMemoryInfo");
		if (!fl_nvml_init || !fl_nvml_shutdown || !fl_nvml_count || !fl_nvml_handle || !fl_nvml_name || !fl_nvml_mem)
			return 13;
		fl_nvml_lib = lib; // kept open: unloading under a live process gains nothing
	}
	return fl_nvml_init();
}
static int fl_nvml_close(void) { return fl_nvml_shutdown ? fl_nvml_shutdown() : 0; }
static int fl_nvml_device_count(unsigned int *n) { return fl_nvml_count(n); }
static int fl_nvml_device(unsigned int i, char *name, unsigned int len, fl_nvml_memory *mem, int *name_ret) {
	void *dev = NULL;
	int ret = fl_nvml_handle(i, &dev);
	if (ret != 0)
		return ret;
	*name_ret = fl_nvml_name(dev, name, len);
	return fl_nvml_mem(dev, mem);
}
*/
import "C"

import "unsafe"

// dlNVML is the real nvmlLib: libnvidia-ml.so.1 opened with dlopen.
type dlNVML struct{}

func (dlNVML) Init() nvmlReturn     { return nvmlReturn(C.fl_nvml_open()) }
func (dlNVML) Shutdown() nvmlReturn { return nvmlReturn(C.fl_nvml_close()) }

func (dlNVML) DeviceCount() (int, nvmlReturn) {
	var n C.uint
	ret := nvmlReturn(C.fl_nvml_device_count(&n))
	return int(n), ret
}

func (dlNVML) Device(i int) (string, nvmlReturn, nvmlMemory, nvmlReturn) {
	var name [96]C.char // NVML_DEVICE_NAME_V2_BUFFER_SIZE
	var mem C.fl_nvml_memory
	var nameRet C.int
	ret := nvmlReturn(C.fl_nvml_device(C.uint(i), &name[0], C.uint(len(name)), &mem, &nameRet))
	return C.GoString((*C.char)(unsafe.Pointer(&name[0]))), nvmlReturn(nameRet),
		nvmlMemory{Total: uint64(mem.total), Free: uint64(mem.free), Used: uint64(mem.used)}, ret
}
