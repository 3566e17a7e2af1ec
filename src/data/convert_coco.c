/* placeholder, filled in below */
#include "dlt_data.h"
dlt_status dlt_convert_coco(const char *images_dir, const char *annotations, int max_size,
                            int max_boxes, const dlt_convert_opts *o)
{
    (void)images_dir, (void)annotations, (void)max_size, (void)max_boxes, (void)o;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "not yet");
}
