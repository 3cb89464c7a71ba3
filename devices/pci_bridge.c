/*
 * The PCI-to-PCI bridge window model (pci_bridge.h, docs/pci-bridge.md).
 * This file owns the bridge's configuration header (reset values, writable
 * masks, byte-wise stores), window decoding, and the update flows that turn
 * registers into aliases on the primary bus. It uses memtree's public API
 * only, so it is also an example of a device a user would write.
 */
#include "pci_bridge.h"

#include <errno.h>
#include <string.h>

/* Fixed alias geometry of VGA forwarding (docs/pci-bridge.md, "What a
 * bridge is made of"). */
#define VGA_MEM_BASE 0xa0000u
#define VGA_MEM_SIZE 0x20000u
#define VGA_IO_LO_BASE 0x3b0u
#define VGA_IO_LO_SIZE 0xcu
#define VGA_IO_HI_BASE 0x3c0u
#define VGA_IO_HI_SIZE 0x20u

/* BARs and windows share priority 1 on a bus, so "newest mapped wins"
 * decides between a window and a BAR that overlap (docs/pci-bridge.md,
 * "Registers and decoding"). */
#define WINDOW_PRIORITY 1

/* ---- registers ------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *c, unsigned off)
{
    return (uint16_t)(c[off] | (c[off + 1] << 8));
}

static uint32_t rd32(const uint8_t *c, unsigned off)
{
    return (uint32_t)rd16(c, off) | ((uint32_t)rd16(c, off + 2) << 16);
}

static void wr16(uint8_t *c, unsigned off, uint16_t v)
{
    c[off] = (uint8_t)v;
    c[off + 1] = (uint8_t)(v >> 8);
}

static void set_mask(uint8_t *m, unsigned off, unsigned len, uint8_t v)
{
    memset(m + off, v, len);
}

/*
 * Writable bits (docs/pci-bridge.md, "Registers and decoding"). Besides the
 * window registers, the bus numbers
 * (18-1b) and the interrupt line are plain storage: a guest's enumeration
 * writes them, and the oracle replay needs the secondary bus number to
 * address devices behind the bridge. Everything else reads as stored.
 */
static void init_wmask(mt_pci_bridge *b)
{
    uint8_t *m = b->wmask;
    memset(m, 0, MT_PCI_BRIDGE_CFG_SIZE);
    m[MT_PCI_BRIDGE_COMMAND] = 0x07;
    set_mask(m, 0x18, 4, 0xff);
    m[MT_PCI_BRIDGE_IO_BASE] = 0xf0;
    m[MT_PCI_BRIDGE_IO_LIMIT] = 0xf0;
    for (unsigned off = MT_PCI_BRIDGE_MEM_BASE; off <= MT_PCI_BRIDGE_PREF_LIMIT; off += 2) {
        m[off] = 0xf0; /* the low nibble is reserved or the type */
        m[off + 1] = 0xff;
    }
    set_mask(m, MT_PCI_BRIDGE_PREF_BASE_UPPER, 8, 0xff);
    set_mask(m, MT_PCI_BRIDGE_IO_BASE_UPPER, 4, 0xff);
    m[0x3c] = 0xff;
    m[MT_PCI_BRIDGE_CONTROL] = MT_PCI_BRIDGE_CTL_ISA | MT_PCI_BRIDGE_CTL_VGA |
                               MT_PCI_BRIDGE_CTL_BUS_RESET;
}

/* The header as the bridge comes out of reset (docs/pci-bridge.md, "Registers and decoding"). */
static void load_reset_values(mt_pci_bridge *b, mt_pci_bridge_reset_kind kind)
{
    uint8_t *c = b->config;
    uint8_t io_type = b->opts.io_32bit ? 0x01 : 0x00;
    uint8_t pref_type = b->opts.pref_32bit ? 0x00 : 0x01;
    memset(c, 0, MT_PCI_BRIDGE_CFG_SIZE);
    wr16(c, 0x00, b->opts.vendor_id);
    wr16(c, 0x02, b->opts.device_id);
    c[0x0a] = 0x04; /* subclass: PCI-to-PCI bridge */
    c[0x0b] = 0x06; /* class: bridge */
    c[0x0e] = 0x01; /* header type 1 */
    c[MT_PCI_BRIDGE_IO_BASE] = io_type;
    c[MT_PCI_BRIDGE_IO_LIMIT] = io_type;
    c[MT_PCI_BRIDGE_PREF_BASE] = pref_type;
    c[MT_PCI_BRIDGE_PREF_LIMIT] = pref_type;
    if (kind == MT_PCI_BRIDGE_RESET_FORWARDING_DISABLED) {
        /* base above limit everywhere; upper registers already 0 */
        c[MT_PCI_BRIDGE_IO_BASE] |= 0xf0;
        wr16(c, MT_PCI_BRIDGE_MEM_BASE, 0xfff0);
        wr16(c, MT_PCI_BRIDGE_PREF_BASE, (uint16_t)(0xfff0 | pref_type));
    }
}

bool mt_pci_bridge_write_triggers_update(unsigned offset, unsigned size)
{
    /* half-open byte ranges whose writes re-program a window */
    static const unsigned ranges[][2] = {
        {0x04, 0x06}, {0x1c, 0x1e}, {0x20, 0x34}, {0x3e, 0x40},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (offset < ranges[i][1] && offset + size > ranges[i][0])
            return true;
    return false;
}

/* ---- decoding ------------------------------------------------------------------------ */

static uint64_t window_size(uint64_t base, uint64_t limit, bool enabled)
{
    if (!enabled || limit < base)
        return 0;
    /* the one case whose size does not fit: memtree spells 2^64 UINT64_MAX */
    if (base == 0 && limit == UINT64_MAX)
        return UINT64_MAX;
    return limit - base + 1;
}

mt_pci_bridge_window mt_pci_bridge_decode(const uint8_t c[MT_PCI_BRIDGE_CFG_SIZE],
                                          mt_pci_bridge_window_kind kind)
{
    mt_pci_bridge_window w = {0};
    uint16_t cmd = rd16(c, MT_PCI_BRIDGE_COMMAND);
    switch (kind) {
    case MT_PCI_BRIDGE_WIN_IO: {
        uint8_t lo = c[MT_PCI_BRIDGE_IO_BASE], hi = c[MT_PCI_BRIDGE_IO_LIMIT];
        /* each register's own type bit decides whether its upper half counts */
        w.base = (uint64_t)(lo & 0xf0) << 8;
        if (lo & 0x01)
            w.base |= (uint64_t)rd16(c, MT_PCI_BRIDGE_IO_BASE_UPPER) << 16;
        w.limit = ((uint64_t)(hi & 0xf0) << 8) | 0xfff;
        if (hi & 0x01)
            w.limit |= (uint64_t)rd16(c, MT_PCI_BRIDGE_IO_LIMIT_UPPER) << 16;
        w.enabled = cmd & MT_PCI_BRIDGE_CMD_IO;
        break;
    }
    case MT_PCI_BRIDGE_WIN_MEM:
        w.base = (uint64_t)(rd16(c, MT_PCI_BRIDGE_MEM_BASE) & 0xfff0) << 16;
        w.limit = ((uint64_t)(rd16(c, MT_PCI_BRIDGE_MEM_LIMIT) & 0xfff0) << 16) | 0xfffff;
        w.enabled = cmd & MT_PCI_BRIDGE_CMD_MEMORY;
        break;
    case MT_PCI_BRIDGE_WIN_PREF: {
        uint16_t lo = rd16(c, MT_PCI_BRIDGE_PREF_BASE);
        uint16_t hi = rd16(c, MT_PCI_BRIDGE_PREF_LIMIT);
        w.base = (uint64_t)(lo & 0xfff0) << 16;
        if (lo & 0x01)
            w.base |= (uint64_t)rd32(c, MT_PCI_BRIDGE_PREF_BASE_UPPER) << 32;
        w.limit = ((uint64_t)(hi & 0xfff0) << 16) | 0xfffff;
        if (hi & 0x01)
            w.limit |= (uint64_t)rd32(c, MT_PCI_BRIDGE_PREF_LIMIT_UPPER) << 32;
        w.enabled = cmd & MT_PCI_BRIDGE_CMD_MEMORY;
        break;
    }
    }
    w.size = window_size(w.base, w.limit, w.enabled);
    return w;
}

mt_pci_bridge_window mt_pci_bridge_get_window(const mt_pci_bridge *b,
                                              mt_pci_bridge_window_kind kind)
{
    return mt_pci_bridge_decode(b->config, kind);
}

uint64_t mt_pci_bridge_window_base(const mt_pci_bridge *b, mt_pci_bridge_window_kind kind)
{
    return mt_pci_bridge_get_window(b, kind).base;
}

uint64_t mt_pci_bridge_window_limit(const mt_pci_bridge *b, mt_pci_bridge_window_kind kind)
{
    return mt_pci_bridge_get_window(b, kind).limit;
}

uint64_t mt_pci_bridge_window_size(const mt_pci_bridge *b, mt_pci_bridge_window_kind kind)
{
    return mt_pci_bridge_get_window(b, kind).size;
}

/* ---- the six aliases ---------------------------------------------------------------- */

/* Static description of each alias: where its storage is, what it shows,
 * and which parent region it goes into. */
typedef struct alias_slot {
    mt_region *alias;
    mt_region *target;
    mt_region *parent;
    const char *name;
} alias_slot;

enum { SLOT_IO, SLOT_MEM, SLOT_PREF, SLOT_VGA_MEM, SLOT_VGA_LO, SLOT_VGA_HI, NR_SLOTS };

static void slots(mt_pci_bridge *b, alias_slot s[NR_SLOTS])
{
    s[SLOT_IO] = (alias_slot){&b->win_io, &b->sec_io, b->parent_io, "pci_bridge_io"};
    s[SLOT_MEM] = (alias_slot){&b->win_mem, &b->sec_mem, b->parent_mem, "pci_bridge_mem"};
    s[SLOT_PREF] = (alias_slot){&b->win_pref, &b->sec_mem, b->parent_mem,
                                "pci_bridge_pref_mem"};
    s[SLOT_VGA_MEM] = (alias_slot){&b->vga_mem, &b->sec_mem, b->parent_mem,
                                   "pci_bridge_vga_mem"};
    s[SLOT_VGA_LO] = (alias_slot){&b->vga_io_lo, &b->sec_io, b->parent_io,
                                  "pci_bridge_vga_io_lo"};
    s[SLOT_VGA_HI] = (alias_slot){&b->vga_io_hi, &b->sec_io, b->parent_io,
                                  "pci_bridge_vga_io_hi"};
}

/* Alias offset and size (UINT64_MAX = 2^64) of each slot, and where it is
 * mapped, from the current registers. */
static void slot_geometry(const mt_pci_bridge *b, int slot, uint64_t *offset,
                          uint64_t *size)
{
    static const uint32_t vga[3][2] = {
        {VGA_MEM_BASE, VGA_MEM_SIZE},
        {VGA_IO_LO_BASE, VGA_IO_LO_SIZE},
        {VGA_IO_HI_BASE, VGA_IO_HI_SIZE},
    };
    if (slot <= SLOT_PREF) {
        mt_pci_bridge_window w = mt_pci_bridge_get_window(b, (mt_pci_bridge_window_kind)slot);
        *offset = w.base;
        *size = w.size;
    } else {
        *offset = vga[slot - SLOT_VGA_MEM][0];
        *size = vga[slot - SLOT_VGA_MEM][1];
    }
}

static bool vga_forwarding(const mt_pci_bridge *b)
{
    return rd16(b->config, MT_PCI_BRIDGE_CONTROL) & MT_PCI_BRIDGE_CTL_VGA;
}

/* Keeps the first error of a sequence of calls that must all be made. */
static void keep_error(int *rc, int err)
{
    if (err && !*rc)
        *rc = err;
}

/* VGA aliases are enabled by the command bits of their kind
 * (docs/pci-bridge.md, "Registers and decoding"). */
static int vga_set_enabled(mt_pci_bridge *b)
{
    uint16_t cmd = rd16(b->config, MT_PCI_BRIDGE_COMMAND);
    int rc = 0;
    keep_error(&rc, mt_region_set_enabled(&b->vga_mem, cmd & MT_PCI_BRIDGE_CMD_MEMORY));
    keep_error(&rc, mt_region_set_enabled(&b->vga_io_lo, cmd & MT_PCI_BRIDGE_CMD_IO));
    keep_error(&rc, mt_region_set_enabled(&b->vga_io_hi, cmd & MT_PCI_BRIDGE_CMD_IO));
    return rc;
}

/* Steps 4-6: initialise the six aliases from the registers and map them. */
static int windows_create(mt_pci_bridge *b)
{
    alias_slot s[NR_SLOTS];
    int rc = 0;
    slots(b, s);
    for (int i = 0; i < NR_SLOTS; i++) {
        uint64_t offset, size;
        slot_geometry(b, i, &offset, &size);
        int err = mt_region_init_alias(s[i].alias, b->ctx, &b->owner, s[i].name,
                                       s[i].target, offset, size);
        if (err) {
            /* leave all six dead, the state the next update expects */
            while (i-- > 0)
                mt_region_finalize(s[i].alias);
            return err;
        }
    }
    b->windows_live = true;
    /* a window sits at its base on the primary bus: secondary address ==
     * primary address, hence alias offset == base */
    for (int i = SLOT_IO; i <= SLOT_PREF; i++)
        keep_error(&rc, mt_region_add_subregion_overlap(s[i].parent,
                                                        mt_region_alias_offset(s[i].alias),
                                                        s[i].alias, WINDOW_PRIORITY));
    if (vga_forwarding(b)) {
        for (int i = SLOT_VGA_MEM; i < NR_SLOTS; i++)
            keep_error(&rc, mt_region_add_subregion_overlap(
                                s[i].parent, mt_region_alias_offset(s[i].alias),
                                s[i].alias, WINDOW_PRIORITY));
        b->vga_mapped = true;
        keep_error(&rc, vga_set_enabled(b));
    }
    return rc;
}

/* Steps 2-3: unmap what is mapped, then finalise all six aliases. */
static int windows_destroy(mt_pci_bridge *b)
{
    alias_slot s[NR_SLOTS];
    int rc = 0;
    slots(b, s);
    /* Ask each alias where it is rather than trusting parent_*: if the
     * parent bridge was torn down first, its containers are gone and have
     * already unmapped our aliases. */
    for (int i = 0; i < NR_SLOTS; i++) {
        mt_region *c = mt_region_container(s[i].alias);
        if (c)
            keep_error(&rc, mt_region_del_subregion(c, s[i].alias));
    }
    b->vga_mapped = false;
    for (int i = 0; i < NR_SLOTS; i++) {
        int err = mt_region_finalize(s[i].alias);
        if (err)
            return err; /* still a region: re-initialising would fail too */
        if (b->hooks.alias_finalized)
            b->hooks.alias_finalized(b, s[i].alias, b->hooks.opaque);
    }
    b->windows_live = false;
    return rc;
}

/* Does offset + size (UINT64_MAX = 2^64) stay within 2^64? */
static bool alias_fits(uint64_t offset, uint64_t size)
{
    if (size == UINT64_MAX)
        return offset == 0;
    return size == 0 || offset <= UINT64_MAX - size + 1;
}

/* The in-place variant: the same end state through property edits. */
static int windows_edit(mt_pci_bridge *b)
{
    alias_slot s[NR_SLOTS];
    int rc = 0;
    slots(b, s);
    for (int i = SLOT_IO; i <= SLOT_PREF; i++) {
        mt_region *a = s[i].alias;
        uint64_t offset, size;
        slot_geometry(b, i, &offset, &size);
        /* memtree refuses an alias window that would pass 2^64 even for a
         * moment, so shrink first when the new offset does not fit the old
         * size */
        if (!alias_fits(offset, mt_region_size(a)))
            keep_error(&rc, mt_region_set_size(a, 0));
        keep_error(&rc, mt_region_set_alias_offset(a, offset));
        keep_error(&rc, mt_region_set_size(a, size));
        keep_error(&rc, mt_region_set_address(a, offset));
    }
    bool want = vga_forwarding(b);
    if (want != b->vga_mapped) {
        for (int i = SLOT_VGA_MEM; i < NR_SLOTS; i++) {
            mt_region *c = mt_region_container(s[i].alias);
            if (want)
                keep_error(&rc, mt_region_add_subregion_overlap(
                                    s[i].parent, mt_region_alias_offset(s[i].alias),
                                    s[i].alias, WINDOW_PRIORITY));
            else if (c)
                keep_error(&rc, mt_region_del_subregion(c, s[i].alias));
        }
        b->vga_mapped = want;
    }
    if (want)
        keep_error(&rc, vga_set_enabled(b));
    return rc;
}

/* The update flow (docs/pci-bridge.md, "The update flows"): one
 * transaction, nested in the caller's if one is open. */
static int windows_update(mt_pci_bridge *b)
{
    int rc = 0;
    mt_transaction_begin(b->ctx);
    if (b->opts.update == MT_PCI_BRIDGE_UPDATE_IN_PLACE && b->windows_live) {
        rc = windows_edit(b);
    } else {
        if (b->windows_live)
            rc = windows_destroy(b);
        if (!b->windows_live) {
            if (b->hooks.before_reinit)
                b->hooks.before_reinit(b, b->hooks.opaque);
            keep_error(&rc, windows_create(b));
        }
    }
    b->updates++;
    keep_error(&rc, mt_transaction_commit(b->ctx));
    return rc;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static void owner_release(mt_owner *owner)
{
    /* the owner is the first member */
    mt_pci_bridge *b = (mt_pci_bridge *)owner;
    b->realized = false;
    if (b->opts.release)
        b->opts.release(b);
}

int mt_pci_bridge_init(mt_pci_bridge *b, mt_context *ctx, const mt_pci_bridge_options *opts)
{
    if (!b || !ctx)
        return -EINVAL;
    memset(b, 0, sizeof(*b));
    b->ctx = ctx;
    if (opts)
        b->opts = *opts;
    b->opts.label = NULL;
    if (!b->opts.vendor_id && !b->opts.device_id) {
        b->opts.vendor_id = 0x1b36; /* the generic bridge's public PCI IDs */
        b->opts.device_id = 0x0001;
    }
    int err = mt_owner_init(&b->owner, opts ? opts->label : NULL, owner_release);
    if (err)
        return err;
    init_wmask(b);
    load_reset_values(b, MT_PCI_BRIDGE_RESET_DEFAULT);
    return 0;
}

int mt_pci_bridge_realize(mt_pci_bridge *b, mt_region *parent_mem, mt_region *parent_io)
{
    if (!b || !parent_mem || !parent_io)
        return -EINVAL;
    if (b->realized)
        return -EBUSY;
    int err = mt_region_init_container(&b->sec_mem, b->ctx, &b->owner, "pci_bridge_pci",
                                       UINT64_MAX);
    if (err)
        return err;
    err = mt_region_init_container(&b->sec_io, b->ctx, &b->owner, "pci_bridge_io",
                                   UINT64_C(0x100000000));
    if (err) {
        mt_region_finalize(&b->sec_mem);
        return err;
    }
    b->parent_mem = parent_mem;
    b->parent_io = parent_io;
    b->realized = true;
    /* one transaction, so the parent's views change once */
    mt_transaction_begin(b->ctx);
    err = windows_create(b);
    keep_error(&err, mt_transaction_commit(b->ctx));
    if (err)
        return err;
    b->as_mem = mt_address_space_new(b->ctx, &b->sec_mem, "pci_bridge_pci_mem");
    b->as_io = mt_address_space_new(b->ctx, &b->sec_io, "pci_bridge_pci_io");
    return b->as_mem && b->as_io ? 0 : -ENOMEM;
}

int mt_pci_bridge_config_write(mt_pci_bridge *b, unsigned offset, uint32_t value,
                               unsigned size)
{
    if (!b || (size != 1 && size != 2 && size != 4) || offset >= MT_PCI_BRIDGE_CFG_SIZE ||
        offset + size > MT_PCI_BRIDGE_CFG_SIZE)
        return -EINVAL;
    uint16_t old_ctl = rd16(b->config, MT_PCI_BRIDGE_CONTROL);
    for (unsigned i = 0; i < size; i++) {
        unsigned off = offset + i;
        uint8_t byte = (uint8_t)(value >> (8 * i));
        b->config[off] = (uint8_t)((b->config[off] & ~b->wmask[off]) | (byte & b->wmask[off]));
    }
    int rc = 0;
    if (b->realized && mt_pci_bridge_write_triggers_update(offset, size))
        rc = windows_update(b);
    uint16_t new_ctl = rd16(b->config, MT_PCI_BRIDGE_CONTROL);
    if ((new_ctl & ~old_ctl & MT_PCI_BRIDGE_CTL_BUS_RESET) && b->opts.secondary_reset)
        b->opts.secondary_reset(b, b->opts.opaque);
    return rc;
}

uint32_t mt_pci_bridge_config_read(const mt_pci_bridge *b, unsigned offset, unsigned size)
{
    if (!b || (size != 1 && size != 2 && size != 4) || offset >= MT_PCI_BRIDGE_CFG_SIZE ||
        offset + size > MT_PCI_BRIDGE_CFG_SIZE)
        return UINT32_MAX;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)b->config[offset + i] << (8 * i);
    return v;
}

int mt_pci_bridge_reset(mt_pci_bridge *b, mt_pci_bridge_reset_kind kind)
{
    if (!b)
        return -EINVAL;
    load_reset_values(b, kind);
    return b->realized ? windows_update(b) : 0;
}

int mt_pci_bridge_exit(mt_pci_bridge *b)
{
    if (!b || !b->realized)
        return -EINVAL;
    /* address spaces first: the containers may then be finalised by the
     * owner's teardown (an address-space root cannot be) */
    mt_address_space_destroy(b->as_mem);
    mt_address_space_destroy(b->as_io);
    b->as_mem = b->as_io = NULL;
    int rc = 0;
    mt_transaction_begin(b->ctx);
    if (b->windows_live)
        rc = windows_destroy(b);
    keep_error(&rc, mt_transaction_commit(b->ctx));
    b->realized = false;
    return rc;
}

void mt_pci_bridge_set_update(mt_pci_bridge *b, mt_pci_bridge_update update)
{
    b->opts.update = update;
}

void mt_pci_bridge_set_hooks(mt_pci_bridge *b, const mt_pci_bridge_hooks *hooks)
{
    if (hooks)
        b->hooks = *hooks;
    else
        memset(&b->hooks, 0, sizeof(b->hooks));
}

/* ---- queries --------------------------------------------------------------------------- */

mt_owner *mt_pci_bridge_owner(mt_pci_bridge *b) { return &b->owner; }
mt_region *mt_pci_bridge_sec_mem(mt_pci_bridge *b) { return &b->sec_mem; }
mt_region *mt_pci_bridge_sec_io(mt_pci_bridge *b) { return &b->sec_io; }
mt_region *mt_pci_bridge_vga_mem(mt_pci_bridge *b) { return &b->vga_mem; }
mt_region *mt_pci_bridge_vga_io_lo(mt_pci_bridge *b) { return &b->vga_io_lo; }
mt_region *mt_pci_bridge_vga_io_hi(mt_pci_bridge *b) { return &b->vga_io_hi; }
mt_address_space *mt_pci_bridge_mem_as(const mt_pci_bridge *b) { return b->as_mem; }
mt_address_space *mt_pci_bridge_io_as(const mt_pci_bridge *b) { return b->as_io; }
unsigned mt_pci_bridge_update_count(const mt_pci_bridge *b) { return b->updates; }

mt_region *mt_pci_bridge_window_region(mt_pci_bridge *b, mt_pci_bridge_window_kind kind)
{
    switch (kind) {
    case MT_PCI_BRIDGE_WIN_IO: return &b->win_io;
    case MT_PCI_BRIDGE_WIN_MEM: return &b->win_mem;
    case MT_PCI_BRIDGE_WIN_PREF: return &b->win_pref;
    }
    return NULL;
}
