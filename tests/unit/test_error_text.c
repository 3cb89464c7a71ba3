/*
 * mt_strerror: every code of the library's table (src/errors.h) has a text
 * of its own, distinct from the others and from the unknown-code text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "errors.h"
#include "mt_test.h"

static void every_code_has_its_own_text(void **state)
{
    (void)state;
    static const int codes[] = {
#define MT__ERROR_CODE(code, text) -(code),
        MT__ERRORS(MT__ERROR_CODE)
#undef MT__ERROR_CODE
    };
    static const char *const texts[] = {
#define MT__ERROR_STRING(code, text) text,
        MT__ERRORS(MT__ERROR_STRING)
#undef MT__ERROR_STRING
    };
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    const char *unknown = mt_strerror(-4095);
    for (size_t i = 0; i < n; i++) {
        const char *t = mt_strerror(codes[i]);
        assert_string_equal(t, texts[i]);
        assert_string_not_equal(t, unknown);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t, mt_strerror(codes[j]));
    }
    /* the codes the access path and the checker return */
    assert_string_not_equal(mt_strerror(-EACCES), unknown);
    assert_string_not_equal(mt_strerror(-ESTALE), unknown);
    assert_string_not_equal(mt_strerror(-EFAULT), unknown);
}

MT_TEST_MAIN(
    cmocka_unit_test(every_code_has_its_own_text))
