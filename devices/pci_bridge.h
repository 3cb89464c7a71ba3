/*
 * A PCI-to-PCI bridge window model built only on memtree's public API
 * (docs/pci-bridge.md). This header owns the device's
 * whole interface: its type-1 configuration header, the decoding of the
 * I/O, memory and prefetchable windows, the six window aliases kept in
 * storage embedded in the bridge, the two secondary containers with an
 * address space over each, and the realise / config write / reset / exit
 * life cycle.
 *
 * Every region belongs to the bridge's embedded owner. By default each
 * window update finalises the six aliases and re-initialises them in the
 * same storage, as QEMU does: the pattern that makes a stale FlatView root
 * possible in QEMU and that memtree must make safe (docs/lifetimes.md,
 * "The FlatView-root problem, and why memtree is safe").
 *
 * License: MIT.
 */
#ifndef MT_PCI_BRIDGE_H
#define MT_PCI_BRIDGE_H

#include <memtree.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_pci_bridge mt_pci_bridge;

/* ---- configuration header offsets (type 1) ---------------------------------- */

enum {
    MT_PCI_BRIDGE_CFG_SIZE = 256,
    MT_PCI_BRIDGE_COMMAND = 0x04,      /* 16 bits */
    MT_PCI_BRIDGE_SEC_BUS = 0x19,      /* 8 bits, plain storage */
    MT_PCI_BRIDGE_IO_BASE = 0x1c,      /* 8 bits */
    MT_PCI_BRIDGE_IO_LIMIT = 0x1d,     /* 8 bits */
    MT_PCI_BRIDGE_MEM_BASE = 0x20,     /* 16 bits */
    MT_PCI_BRIDGE_MEM_LIMIT = 0x22,    /* 16 bits */
    MT_PCI_BRIDGE_PREF_BASE = 0x24,    /* 16 bits */
    MT_PCI_BRIDGE_PREF_LIMIT = 0x26,   /* 16 bits */
    MT_PCI_BRIDGE_PREF_BASE_UPPER = 0x28,  /* 32 bits */
    MT_PCI_BRIDGE_PREF_LIMIT_UPPER = 0x2c, /* 32 bits */
    MT_PCI_BRIDGE_IO_BASE_UPPER = 0x30,    /* 16 bits */
    MT_PCI_BRIDGE_IO_LIMIT_UPPER = 0x32,   /* 16 bits */
    MT_PCI_BRIDGE_CONTROL = 0x3e,      /* 16 bits */
};

/* Command register bits. */
enum {
    MT_PCI_BRIDGE_CMD_IO = 1 << 0,
    MT_PCI_BRIDGE_CMD_MEMORY = 1 << 1,
    MT_PCI_BRIDGE_CMD_MASTER = 1 << 2,
};

/* Bridge control bits. */
enum {
    MT_PCI_BRIDGE_CTL_ISA = 1 << 2,
    MT_PCI_BRIDGE_CTL_VGA = 1 << 3,
    MT_PCI_BRIDGE_CTL_BUS_RESET = 1 << 6,
};

/* ---- windows and their decoding --------------------------------------------- */

typedef enum mt_pci_bridge_window_kind {
    MT_PCI_BRIDGE_WIN_IO,
    MT_PCI_BRIDGE_WIN_MEM,
    MT_PCI_BRIDGE_WIN_PREF,
} mt_pci_bridge_window_kind;

/* What one window decodes to (docs/pci-bridge.md, "Registers and decoding"). */
typedef struct mt_pci_bridge_window {
    uint64_t base;
    uint64_t limit;   /* inclusive */
    /* limit - base + 1 when enabled and limit >= base, else 0. UINT64_MAX
     * means 2^64 (base 0, limit all-ones): windows are 4 KiB or 1 MiB
     * granular, so no window is ever 2^64 - 1 bytes long. */
    uint64_t size;
    bool enabled;     /* the command bit that gates this window */
} mt_pci_bridge_window;

/*
 * Decodes one window from a raw 256-byte header, with the same rules the
 * device uses. Pure: exposed so tests and tools can check the decoding table of
 * docs/pci-bridge.md, "Registers and decoding", without a bridge.
 */
mt_pci_bridge_window mt_pci_bridge_decode(const uint8_t config[MT_PCI_BRIDGE_CFG_SIZE],
                                          mt_pci_bridge_window_kind kind);

/* ---- creating a bridge ---------------------------------------------------------- */

/* How the windows are re-programmed after a config write (pci-bridge.md 7). */
typedef enum mt_pci_bridge_update {
    /* finalise the six aliases and re-initialise them in place (QEMU's way,
     * the default because it is the one memtree must make safe) */
    MT_PCI_BRIDGE_UPDATE_FINALIZE = 0,
    /* edit the existing aliases: offset, size, address, enabled */
    MT_PCI_BRIDGE_UPDATE_IN_PLACE = 1,
} mt_pci_bridge_update;

typedef enum mt_pci_bridge_reset_kind {
    /* reset values: every base and limit 0 */
    MT_PCI_BRIDGE_RESET_DEFAULT = 0,
    /* bases above limits, so every window is empty (QEMU's PCIe root ports) */
    MT_PCI_BRIDGE_RESET_FORWARDING_DISABLED = 1,
} mt_pci_bridge_reset_kind;

typedef struct mt_pci_bridge_options {
    const char *label;     /* owner label for dumps, e.g. "dev id=b1"; copied */
    bool io_32bit;         /* I/O type nibble 1 (else 16-bit) */
    bool pref_32bit;       /* prefetchable type nibble 0 (else 64-bit) */
    mt_pci_bridge_update update;
    uint16_t vendor_id, device_id; /* 0 means 1b36:0001 */
    /*
     * Runs when the owner is torn down, after every region of the bridge is
     * finalised: the embedder may free the bridge there. May be NULL.
     */
    void (*release)(mt_pci_bridge *b);
    /*
     * Runs after a config write sets the secondary-bus-reset bit (0 -> 1):
     * the embedder resets the devices behind the bridge (unmaps their BARs).
     * May be NULL.
     */
    void (*secondary_reset)(mt_pci_bridge *b, void *opaque);
    void *opaque;
} mt_pci_bridge_options;

/*
 * Test hooks into the finalising update flow, which a test cannot otherwise
 * reach between finalisation (step 3) and re-initialisation (step 4): it
 * uses them to poison the storage and to check that nothing reads it.
 */
typedef struct mt_pci_bridge_hooks {
    /* after `alias` (storage inside the bridge) has been finalised */
    void (*alias_finalized)(mt_pci_bridge *b, mt_region *alias, void *opaque);
    /* after all six are finalised, before any is re-initialised */
    void (*before_reinit)(mt_pci_bridge *b, void *opaque);
    void *opaque;
} mt_pci_bridge_hooks;

/*
 * The bridge. Embed it or allocate it; it must not move once initialised
 * (regions live inside it). Fields are private: use the functions below.
 */
struct mt_pci_bridge {
    mt_owner owner;        /* first: the release callback casts back */
    mt_context *ctx;
    mt_pci_bridge_options opts; /* label not kept: the owner has a copy */
    uint8_t config[MT_PCI_BRIDGE_CFG_SIZE];
    uint8_t wmask[MT_PCI_BRIDGE_CFG_SIZE];
    mt_pci_bridge_hooks hooks;

    mt_region *parent_mem, *parent_io;
    mt_region sec_mem;     /* `pci_bridge_pci`, 2^64 */
    mt_region sec_io;      /* `pci_bridge_io`, 4 GiB */
    /* the six aliases: the same storage is reused at every re-programming */
    mt_region win_io, win_mem, win_pref;
    mt_region vga_mem, vga_io_lo, vga_io_hi;
    mt_address_space *as_mem, *as_io;

    bool realized;
    bool windows_live;     /* the six aliases are initialised */
    bool vga_mapped;
    unsigned updates;      /* update flows run, for tests */
};

/*
 * Initialises the bridge's owner (one reference, the caller's) and its
 * configuration header at its reset values. No region exists yet.
 * `opts` may be NULL (defaults: 16-bit I/O, 64-bit prefetchable, the
 * finalising update). Returns 0 or a negative errno.
 */
int mt_pci_bridge_init(mt_pci_bridge *b, mt_context *ctx, const mt_pci_bridge_options *opts);

/*
 * Plugs the bridge into its primary bus: creates the secondary containers,
 * initialises and maps the windows from the current registers into
 * `parent_mem` and `parent_io` (priority 1), then creates the address spaces
 * `pci_bridge_pci_mem` and `pci_bridge_pci_io`. Returns 0 or a negative
 * errno (-EBUSY if already realised).
 */
int mt_pci_bridge_realize(mt_pci_bridge *b, mt_region *parent_mem, mt_region *parent_io);

/*
 * A guest write of `size` (1, 2 or 4) bytes at `offset`, little-endian,
 * stored byte by byte through the writable masks. When the bytes overlap
 * 04-05, 1c-1d, 20-33 or 3e-3f of a realised bridge the windows are
 * re-programmed in one transaction (nested in the caller's, if any).
 * Returns 0, or -EINVAL for a bad size or a write past the header.
 */
int mt_pci_bridge_config_write(mt_pci_bridge *b, unsigned offset, uint32_t value,
                               unsigned size);
/* A read of 1, 2 or 4 bytes; all-ones for a bad size or offset. */
uint32_t mt_pci_bridge_config_read(const mt_pci_bridge *b, unsigned offset, unsigned size);

/* Restores the reset values of `kind` and re-programs the windows. */
int mt_pci_bridge_reset(mt_pci_bridge *b, mt_pci_bridge_reset_kind kind);

/*
 * Unplug: destroys the two address spaces, then in one transaction unmaps
 * and finalises the six aliases. The containers die with the owner: drop
 * your reference (mt_owner_unref(mt_pci_bridge_owner(b))) and reclaim. The
 * devices behind the bridge must be gone (or unmapped) first.
 */
int mt_pci_bridge_exit(mt_pci_bridge *b);

/* Chooses the update flow for later writes. */
void mt_pci_bridge_set_update(mt_pci_bridge *b, mt_pci_bridge_update update);
void mt_pci_bridge_set_hooks(mt_pci_bridge *b, const mt_pci_bridge_hooks *hooks);

/* ---- queries ------------------------------------------------------------------- */

mt_owner *mt_pci_bridge_owner(mt_pci_bridge *b);
/* The decoded window, from the current registers. */
mt_pci_bridge_window mt_pci_bridge_get_window(const mt_pci_bridge *b,
                                              mt_pci_bridge_window_kind kind);
uint64_t mt_pci_bridge_window_base(const mt_pci_bridge *b, mt_pci_bridge_window_kind kind);
uint64_t mt_pci_bridge_window_limit(const mt_pci_bridge *b, mt_pci_bridge_window_kind kind);
uint64_t mt_pci_bridge_window_size(const mt_pci_bridge *b, mt_pci_bridge_window_kind kind);

/* Secondary-bus containers: map the BARs of devices behind the bridge here. */
mt_region *mt_pci_bridge_sec_mem(mt_pci_bridge *b);
mt_region *mt_pci_bridge_sec_io(mt_pci_bridge *b);
/* The alias storage of a window (live between realise and exit). */
mt_region *mt_pci_bridge_window_region(mt_pci_bridge *b, mt_pci_bridge_window_kind kind);
mt_region *mt_pci_bridge_vga_mem(mt_pci_bridge *b);
mt_region *mt_pci_bridge_vga_io_lo(mt_pci_bridge *b);
mt_region *mt_pci_bridge_vga_io_hi(mt_pci_bridge *b);
mt_address_space *mt_pci_bridge_mem_as(const mt_pci_bridge *b);
mt_address_space *mt_pci_bridge_io_as(const mt_pci_bridge *b);
/* Update flows run so far (0 after realise). */
unsigned mt_pci_bridge_update_count(const mt_pci_bridge *b);

/* True if a write of `size` bytes at `offset` re-programs the windows. */
bool mt_pci_bridge_write_triggers_update(unsigned offset, unsigned size);

#ifdef __cplusplus
}
#endif

#endif /* MT_PCI_BRIDGE_H */
